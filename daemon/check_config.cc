#include <iostream>

#include "collectors/control_file.h"
#include "collectors/parse.h"
#include "config/config.h"
#include "daemon/cli.h"
#include "daemon/commands.h"
#include "daemon/watchdog.h"

namespace oomsentinel {

const char* const kCheckConfigUsage =
    "usage: oomsentinel check-config [--print] FILE\n"
    "\n"
    "Validates a config file and prints every error as file:line:column: key.path: message,\n"
    "then checks the Alertmanager settings as the daemon would use them (auth files read,\n"
    "TLS files loaded).\n"
    "  --print   on success, print the config with every default applied (YAML)\n"
    "\n"
    "Exit status: 0 valid; 2 invalid, unreadable, or a usage error.\n";

int runCheckConfig(std::vector<std::string> argv) {
  Args args(std::move(argv));
  bool print = false;
  std::optional<std::string> file;
  while (!args.empty()) {
    if (args.flag("--print")) {
      print = true;
    } else if (!args.peek().empty() && args.peek()[0] == '-') {
      throw UsageError{"unknown argument '" + args.peek() + "'"};
    } else if (file) {
      throw UsageError{"give one config file"};
    } else {
      file = args.next();
    }
  }
  if (!file) throw UsageError{"no config file given"};
  ConfigLoad load = loadConfigFile(*file);
  if (!load.config) {
    // Each error, then the line it is on with a caret under the column, as compilers do.
    std::vector<std::string> lines;
    if (auto text = readWholeFile(*file)) {
      std::string_view rest = *text, line;
      while (nextLine(rest, line)) lines.emplace_back(line);
    }
    for (const auto& e : load.errors) {
      std::cerr << e.format() << "\n";
      if (e.line <= 0 || e.column <= 0 || static_cast<std::size_t>(e.line) > lines.size()) continue;
      std::string src = lines[static_cast<std::size_t>(e.line) - 1];
      if (!src.empty() && src.back() == '\r') src.pop_back();
      std::cerr << "    " << src << "\n    "
                << std::string(static_cast<std::size_t>(e.column) - 1, ' ') << "^\n";
    }
    std::cerr << *file << ": " << load.errors.size()
              << (load.errors.size() == 1 ? " error\n" : " errors\n");
    return 2;
  }
  // What the config file alone cannot show: the Alertmanager settings as the daemon will use
  // them (the auth file read; with an https URL, the TLS module loaded and its files checked).
  if (!load.config->alerts.alertmanager_urls.empty()) {
    if (auto st = AlertmanagerNotifier::check(alertmanagerSpecFor(load.config->alerts)); !st) {
      std::cerr << *file << ": alerts.alertmanager: " << st.error().describe() << "\n";
      return 2;
    }
  }
  if (print) {
    std::cout << printConfig(*load.config);
  } else {
    std::cout << *file << ": ok (" << load.config->targets.size() << " targets, "
              << load.config->rules.size()
              << (load.config->rules_are_defaults ? " built-in rules)\n" : " rules)\n");
  }
  return 0;
}

}  // namespace oomsentinel

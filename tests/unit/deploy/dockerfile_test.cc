// The Dockerfile, checked without a Docker engine: both stages on debian:bookworm-slim, the build
// stage running the project's own scripts, the runtime stage installing a package for every
// shared library `ldd` shows for the binary just built (mapped with `dpkg -S`), a non-root user,
// COPY --from paths the build really produces, and the port the manifests use.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace {

using oomsentinel::testing::runCommand;
using oomsentinel::testing::slurp;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kSource = OOMSENTINEL_SOURCE_DIR;

struct Instruction {
  std::string op;  // upper case: FROM, RUN, COPY, ...
  std::string args;
};
struct Stage {
  std::string image, name;
  std::vector<Instruction> body;
};

// Continuation lines joined, comments and blank lines dropped, split into stages.
std::vector<Stage> parseDockerfile(const std::string& text) {
  std::vector<Stage> stages;
  std::istringstream in(text);
  std::string line, joined;
  std::vector<std::string> logical;
  while (std::getline(in, line)) {
    std::string trimmed = line.substr(std::min(line.find_first_not_of(" \t"), line.size()));
    if (trimmed.empty() || trimmed[0] == '#') continue;
    if (!line.empty() && line.back() == '\\') {
      joined += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    logical.push_back(joined + line);
    joined.clear();
  }
  for (const auto& l : logical) {
    std::istringstream words(l);
    Instruction ins;
    words >> ins.op;
    std::getline(words, ins.args);
    ins.args.erase(0, ins.args.find_first_not_of(' '));
    for (auto& c : ins.op) c = static_cast<char>(std::toupper(c));
    if (ins.op == "FROM") {
      std::smatch m;
      Stage s;
      if (std::regex_match(ins.args, m, std::regex(R"((\S+)(?:\s+[Aa][Ss]\s+(\S+))?\s*)"))) {
        s.image = m[1];
        s.name = m[2];
      }
      stages.push_back(s);
    } else if (!stages.empty()) {
      stages.back().body.push_back(ins);
    }
  }
  return stages;
}

std::vector<Stage> dockerfile() { return parseDockerfile(slurp(kSource + "/Dockerfile")); }

const Stage* stageNamed(const std::vector<Stage>& stages, const std::string& name) {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

// The packages a stage's `apt-get install` lines name.
std::set<std::string> aptPackages(const Stage& s) {
  std::set<std::string> out;
  for (const auto& ins : s.body) {
    if (ins.op != "RUN") continue;
    for (std::string cmd : {ins.args}) {
      auto at = cmd.find("apt-get install");
      while (at != std::string::npos) {
        std::istringstream words(cmd.substr(at + std::string("apt-get install").size()));
        std::string w;
        while (words >> w && w != "&&" && w != ";") {
          if (w[0] != '-') out.insert(w);
        }
        at = cmd.find("apt-get install", at + 1);
      }
    }
  }
  return out;
}

std::string dpkgOwner(const std::string& lib) {
  // `dpkg -S` reads every package's file list (about a second): once per library.
  static std::map<std::string, std::string> cache;
  if (auto it = cache.find(lib); it != cache.end()) return it->second;
  // Debian 12 merged /usr: ldd may print /lib/... for a file dpkg knows as /usr/lib/..., or the
  // other way round; ask for all the spellings at once.
  std::vector<std::string> argv = {"/usr/bin/dpkg", "-S"};
  std::error_code ec;
  std::string real = std::filesystem::canonical(lib, ec).string();
  for (const std::string& p : {lib, real}) {
    if (p.empty()) continue;
    argv.push_back(p);
    argv.push_back(p.rfind("/usr/", 0) == 0 ? p.substr(4) : "/usr" + p);
  }
  auto r = runCommand(argv, 60);  // exit 1 when some spelling is unknown: read what was found
  std::string owner;
  std::istringstream in(r.out);
  std::string line;
  // "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3"
  if (std::getline(in, line)) owner = line.substr(0, line.find_first_of(":,"));
  cache[lib] = owner;
  return owner;
}

// The libraries the binary names itself (NEEDED), and every library `ldd` resolves for it.
struct Libraries {
  std::string who;                              // the file's name
  std::map<std::string, std::string> resolved;  // soname -> path
  std::set<std::string> needed;                 // sonames
};

Libraries librariesOf(const std::string& binary) {
  Libraries libs;
  libs.who = std::filesystem::path(binary).filename();
  auto ldd = runCommand({"/usr/bin/ldd", binary}, 30);
  EXPECT_EQ(ldd.exit_code, 0) << ldd.err;
  std::istringstream in(ldd.out);
  std::string line;
  std::smatch m;
  while (std::getline(in, line))
    if (std::regex_search(line, m, std::regex(R"((\S+) => (/\S+))"))) libs.resolved[m[1]] = m[2];
  auto elf = runCommand({"/usr/bin/readelf", "-d", binary}, 30);
  EXPECT_EQ(elf.exit_code, 0) << elf.err;
  std::istringstream d(elf.out);
  while (std::getline(d, line))
    if (std::regex_search(line, m, std::regex(R"(\(NEEDED\).*\[(.+)\])"))) libs.needed.insert(m[1]);
  return libs;
}

// The packages `packages` bring in through Depends and Pre-Depends, as this Debian 12 machine's
// dpkg database records them.
std::set<std::string> withDependencies(const std::set<std::string>& packages) {
  static std::map<std::string, std::string> depends_of;
  std::set<std::string> seen;
  std::vector<std::string> todo(packages.begin(), packages.end());
  while (!todo.empty()) {
    std::string p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    if (!depends_of.count(p))
      depends_of[p] =
          runCommand({"/usr/bin/dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p}, 30).out;
    std::string deps = depends_of[p];
    std::regex name(R"((?:^|[,|])\s*([a-z0-9][a-z0-9+.-]+))");
    for (auto it = std::sregex_iterator(deps.begin(), deps.end(), name);
         it != std::sregex_iterator(); ++it)
      todo.push_back((*it)[1]);
  }
  return seen;
}

// libc6 is the base of every Debian image (its loader runs the binary at all).
const std::set<std::string> kBase = {"libc6"};

// What is wrong with `packages` as the runtime stage's list for `binary`: a library the binary
// names itself whose package is not listed, or one of theirs not brought in by a listed one.
std::vector<std::string> missingLibraries(const Libraries& libs,
                                          const std::set<std::string>& packages) {
  std::vector<std::string> problems;
  std::set<std::string> closure = withDependencies(packages);
  for (const auto& [soname, path] : libs.resolved) {
    std::string pkg = dpkgOwner(path);
    if (pkg.empty()) {
      problems.push_back(soname + " (" + path + ") belongs to no Debian package");
      continue;
    }
    if (kBase.count(pkg)) continue;
    if (libs.needed.count(soname) && !packages.count(pkg))
      problems.push_back(soname + " is linked by " + libs.who + " itself; its package " + pkg +
                         " is not installed by the runtime stage");
    else if (!closure.count(pkg))
      problems.push_back(soname + ": package " + pkg + " is not brought in by the runtime stage");
  }
  return problems;
}

TEST(Dockerfile, BothStagesAreBookwormSlimWithNames) {
  auto stages = dockerfile();
  ASSERT_EQ(stages.size(), 2u);
  for (const auto& s : stages) {
    EXPECT_EQ(s.image, "debian:bookworm-slim");
    EXPECT_FALSE(s.name.empty()) << "a FROM without AS <name>";
  }
  EXPECT_NE(stageNamed(stages, "build"), nullptr);
}

TEST(Dockerfile, BuildStageRunsTheProjectsOwnScripts) {
  auto stages = dockerfile();
  const Stage* build = stageNamed(stages, "build");
  ASSERT_NE(build, nullptr);
  bool copies_repo = false, deps = false, built = false;
  for (const auto& ins : build->body) {
    if (ins.op == "COPY" && ins.args == ". .") copies_repo = true;
    if (ins.op == "RUN" && ins.args.find("scripts/deps") != std::string::npos) deps = true;
    if (ins.op == "RUN" && ins.args.find("scripts/build") != std::string::npos)
      built = !deps ? false : true;
  }
  EXPECT_TRUE(copies_repo) << "the build stage does not COPY the repository";
  EXPECT_TRUE(deps) << "no RUN scripts/deps";
  EXPECT_TRUE(built) << "no RUN scripts/build after scripts/deps";
  for (const char* script : {"scripts/deps", "scripts/build"})
    EXPECT_EQ(::access((kSource + "/" + script).c_str(), X_OK), 0)
        << script << " is not executable";
}

TEST(Dockerfile, RuntimeStageInstallsThePackageOfEverySharedLibrary) {
  auto stages = dockerfile();
  ASSERT_EQ(stages.size(), 2u);
  std::set<std::string> packages = aptPackages(stages.back());
  ASSERT_FALSE(packages.empty());
  // Each a real Debian package (installed here, where the binary was built).
  for (const auto& p : packages) {
    auto r = runCommand({"/usr/bin/dpkg-query", "-W", "-f=${Status}", p}, 30);
    EXPECT_EQ(r.out, "install ok installed") << p << " is not a Debian package installed here";
  }
  // The binary, and the TLS module it loads for https (libssl3 is the module's alone).
  int tried = 0;
  bool module_needs_ssl = false;
  for (const char* file : {OOMSENTINEL_BINARY, OOMSENTINEL_TLS_MODULE_FILE}) {
    SCOPED_TRACE(file);
    Libraries libs = librariesOf(file);
    ASSERT_FALSE(libs.needed.empty());
    for (const auto& soname : libs.needed)
      if (soname.rfind("libasan.so", 0) == 0 || soname.rfind("libubsan.so", 0) == 0 ||
          soname.rfind("libtsan.so", 0) == 0)
        GTEST_SKIP() << "a sanitizer build links " << soname
                     << ", which the image does not ship: the release build's files are checked";
    EXPECT_THAT(missingLibraries(libs, packages), IsEmpty());
    if (file == std::string(OOMSENTINEL_TLS_MODULE_FILE))
      module_needs_ssl = std::any_of(libs.needed.begin(), libs.needed.end(),
                                     [](auto& n) { return n.rfind("libssl.so", 0) == 0; });

    // And the check can fail: without any one listed package that owns a library the file
    // names itself, a library is reported missing.
    for (const auto& [soname, path] : libs.resolved) {
      std::string pkg = dpkgOwner(path);
      if (!libs.needed.count(soname) || kBase.count(pkg) || !packages.count(pkg)) continue;
      std::set<std::string> fewer = packages;
      fewer.erase(pkg);
      EXPECT_THAT(missingLibraries(libs, fewer), Not(IsEmpty())) << "without " << pkg;
      ++tried;
    }
  }
  EXPECT_TRUE(module_needs_ssl) << "the TLS module does not link libssl: is it the right file?";
  EXPECT_GE(tried, 5);
}

TEST(Dockerfile, RuntimeRunsAsNonRootAndCopiesWhatTheBuildProduces) {
  auto stages = dockerfile();
  ASSERT_EQ(stages.size(), 2u);
  const Stage& build = stages.front();
  const Stage& runtime = stages.back();
  std::string workdir, build_dir;
  for (const auto& ins : build.body) {
    if (ins.op == "WORKDIR") workdir = ins.args;
    std::smatch m;
    if (ins.op == "RUN" && std::regex_search(ins.args, m, std::regex(R"(BUILD_DIR=(\S+))")))
      build_dir = m[1];
  }
  ASSERT_FALSE(workdir.empty());
  ASSERT_FALSE(build_dir.empty()) << "the build stage does not say where scripts/build builds";

  std::string user, entry, module_dst;
  std::set<std::string> copied_to;
  for (const auto& ins : runtime.body) {
    if (ins.op == "USER") user = ins.args;
    if (ins.op == "ENTRYPOINT") {
      std::smatch m;
      if (std::regex_search(ins.args, m, std::regex(R"(\[\s*"([^"]+))"))) entry = m[1];
    }
    if (ins.op != "COPY" || ins.args.rfind("--from=", 0) != 0) continue;
    std::istringstream words(ins.args);
    std::string from, src, dst;
    words >> from >> src >> dst;
    EXPECT_EQ(from, "--from=" + build.name);
    copied_to.insert(dst);
    std::string binary_in_tree =
        std::filesystem::relative(OOMSENTINEL_BINARY, OOMSENTINEL_BUILD_DIR);
    std::string module_in_tree =
        std::filesystem::relative(OOMSENTINEL_TLS_MODULE_FILE, OOMSENTINEL_BUILD_DIR);
    if (src.rfind(build_dir + "/", 0) == 0) {
      // Built: the same path in this build tree.
      std::string rel = src.substr(build_dir.size() + 1);
      EXPECT_TRUE(std::filesystem::exists(std::string(OOMSENTINEL_BUILD_DIR) + "/" + rel))
          << src << ": the build makes no " << rel;
      if (rel == module_in_tree)
        module_dst = dst;
      else
        EXPECT_EQ(rel, binary_in_tree);
    } else {
      ASSERT_EQ(src.rfind(workdir + "/", 0), 0u)
          << src << " is neither built nor in the repository";
      EXPECT_TRUE(std::filesystem::exists(kSource + "/" + src.substr(workdir.size() + 1)))
          << src << " is not in the repository";
    }
  }
  std::string uid = user.substr(0, user.find(':'));
  EXPECT_FALSE(uid.empty()) << "no USER in the runtime stage";
  EXPECT_NE(uid, "0");
  EXPECT_NE(uid, "root");
  EXPECT_TRUE(copied_to.count(entry)) << "ENTRYPOINT " << entry << " is not the copied binary";
  // The TLS module where the binary looks for it (core/http_tls_module.h).
  std::filesystem::path want =
      std::filesystem::path(entry).parent_path() / "../lib/oomsentinel/oomsentinel-tls.so";
  EXPECT_EQ(module_dst, want.lexically_normal().string())
      << "the TLS module is not copied beside the binary's ../lib/oomsentinel";

  // The port the Kubernetes manifests scrape and probe.
  std::string exposed;
  for (const auto& ins : runtime.body)
    if (ins.op == "EXPOSE") exposed = ins.args;
  auto docs = YAML::LoadAllFromFile(kSource + "/deploy/kubernetes/sidecar.yaml");
  std::string port;
  for (const auto& d : docs)
    if (d["kind"].as<std::string>() == "Deployment")
      for (const auto& c : d["spec"]["template"]["spec"]["containers"])
        if (c["name"].as<std::string>() == "oomsentinel")
          port = c["ports"][0]["containerPort"].as<std::string>();
  EXPECT_EQ(exposed, port);
}

TEST(Dockerfile, ParserSeesABrokenFile) {
  auto stages = parseDockerfile(
      "FROM debian:bookworm AS build\nRUN scripts/build\nFROM debian:bookworm-slim\n"
      "RUN apt-get update && apt-get install -y \\\n  libfoo1 \\\n  libbar2 && rm -rf x\nUSER "
      "root\n");
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].image, "debian:bookworm");
  EXPECT_TRUE(stages[1].name.empty());
  EXPECT_EQ(aptPackages(stages[1]), (std::set<std::string>{"libfoo1", "libbar2"}));
}

}  // namespace

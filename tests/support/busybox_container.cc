#include "tests/support/busybox_container.h"

#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace oomsentinel::testing {

std::string busyboxUnavailable() {
  if (::access(kBusybox, X_OK) == 0) return "";
  return std::string(kBusybox) + " is missing (Debian package busybox-static)";
}

std::string makeBusyboxRoot(const std::string& dir, const std::vector<std::string>& applets) {
  std::string root = dir + "/rootfs";
  for (const char* d : {"", "/bin", "/tmp", "/proc"}) std::filesystem::create_directories(root + d);
  std::filesystem::copy_file(kBusybox, root + "/bin/busybox");
  for (const auto& applet : applets)
    std::filesystem::create_symlink("busybox", root + "/bin/" + applet);
  return root;
}

pid_t startContainer(const std::string& root, const std::string& script,
                     const std::vector<std::string>& env) {
  // Made before the fork: the test may have threads, and the child allocates nothing.
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Exit codes that say which step failed.
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
    ::_exit(120);
  if (::chroot(root.c_str()) != 0 || ::chdir("/") != 0) ::_exit(121);
  ::execle("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr), envp.data());
  ::_exit(127);
}

void killAndReap(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace oomsentinel::testing

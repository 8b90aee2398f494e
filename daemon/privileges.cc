#include "daemon/privileges.h"

#include <cap-ng.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>
#include <vector>

namespace oomsentinel {
namespace {

// Each one for something the daemon still does after start-up, as uid 0 on other users' files
// and processes:
//   sys_ptrace       open another user's /proc/PID/root, cwd, environ, smaps (ptrace access)
//   dac_read_search  read targets' files and directories of other users (heap profiles, hsperfdata)
//   chown            take a JVM's heap dump as ours (where the unit grants it: without it the
//                    dump stays the JVM user's, 0600, in the bundle's 0700 folders)
//   fowner           make a file another user wrote in the bundle 0600 (finishing an artifact),
//                    and move a JVM's heap dump out of its sticky /tmp
//   kill             signal a target of another user (gperftools' heap-profile signal)
//   setuid, setgid   start jcmd as the JVM's user and an exec hook as its user (exec.user)
//   sys_admin        setns() into a target's mount and pid namespaces for jcmd
//   sys_chroot       setns() into a mount namespace needs it too, and jcmd is chrooted to the
//                    target's root
//   net_bind_service bind the metrics port again after a reload, when it is below 1024
constexpr std::pair<int, const char*> kKept[] = {
    {CAP_SYS_PTRACE, "sys_ptrace"},
    {CAP_DAC_READ_SEARCH, "dac_read_search"},
    {CAP_CHOWN, "chown"},
    {CAP_FOWNER, "fowner"},
    {CAP_KILL, "kill"},
    {CAP_SETUID, "setuid"},
    {CAP_SETGID, "setgid"},
    {CAP_SYS_ADMIN, "sys_admin"},
    {CAP_SYS_CHROOT, "sys_chroot"},
    {CAP_NET_BIND_SERVICE, "net_bind_service"},
};

}  // namespace

const std::vector<std::string>& keptCapabilityNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [cap, name] : kKept) out.emplace_back(name);
    return out;
  }();
  return names;
}

std::vector<std::string> heldKeptCapabilityNames() {
  std::vector<std::string> out;
  if (capng_get_caps_process() != 0) return out;
  for (const auto& [cap, name] : kKept)
    if (capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(cap))) out.emplace_back(name);
  return out;
}

Result<bool> dropPrivileges() {
  if (::geteuid() != 0) return false;
  // A capability this process never had (a container started without it) cannot be kept: the
  // kept set is the list above as far as we hold it.
  if (capng_get_caps_process() != 0) return makeError("cannot read our capabilities", "", errno);
  std::vector<unsigned> held;
  for (const auto& [cap, name] : kKept)
    if (capng_have_capability(CAPNG_PERMITTED, static_cast<unsigned>(cap)))
      held.push_back(static_cast<unsigned>(cap));
  capng_clear(CAPNG_SELECT_BOTH);
  for (unsigned cap : held) {
    if (capng_update(
            CAPNG_ADD,
            static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
            cap) != 0)
      return makeError("cannot keep capability " + std::to_string(cap));
  }
  if (int rc = capng_apply(CAPNG_SELECT_BOTH); rc != 0)
    return makeError("cannot drop capabilities (capng_apply " + std::to_string(rc) + ")", "",
                     errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return makeError("cannot set no_new_privs", "", errno);
  return true;
}

std::string describeChildLimits(uid_t euid, const std::vector<int>& held) {
  auto has = [&](int cap) { return std::find(held.begin(), held.end(), cap) != held.end(); };
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : "; ") + s; };
  const std::string uid = std::to_string(euid);
  bool can_switch = has(CAP_SETUID) && has(CAP_SETGID);
  if (!can_switch)
    add("exec hooks run as uid " + uid +
        " (ours), not exec.user, and jcmd reaches only JVMs of uid " + uid +
        ": no CAP_SETUID/CAP_SETGID");
  if (!has(CAP_SYS_ADMIN) || !has(CAP_SYS_CHROOT))
    add("jcmd cannot enter a JVM's mount and pid namespaces: no CAP_SYS_ADMIN/CAP_SYS_CHROOT "
        "(systemd/jvm-dumper.conf gives them)");
  // Without a switch of user, every file a child leaves is ours already.
  if (can_switch && !has(CAP_FOWNER))
    add("files an exec hook or a JVM of another user leaves in a bundle cannot be made 0600 and "
        "are not listed: no CAP_FOWNER");
  return out;
}

std::string childLimits() {
  std::vector<int> held;
  if (capng_get_caps_process() == 0)
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap)
      if (capng_have_capability(CAPNG_EFFECTIVE, static_cast<unsigned>(cap))) held.push_back(cap);
  return describeChildLimits(::geteuid(), held);
}

}  // namespace oomsentinel

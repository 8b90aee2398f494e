// What the daemon says at start-up about the dumpers' children it cannot fully serve.
#include "daemon/privileges.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/capability.h>

namespace oomsentinel {
namespace {

using ::testing::HasSubstr;

TEST(Privileges, SaysOnceWhatTheChildrenCannotDo) {
  // Everything the unit with the JVM drop-in gives: nothing to say.
  EXPECT_EQ(describeChildLimits(0, {CAP_KILL, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SETUID,
                                    CAP_SETGID, CAP_FOWNER, CAP_SYS_ADMIN, CAP_SYS_CHROOT}),
            "");
  // The base unit: jcmd cannot enter namespaces.
  EXPECT_EQ(describeChildLimits(0, {CAP_KILL, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SETUID,
                                    CAP_SETGID, CAP_FOWNER}),
            "jcmd cannot enter a JVM's mount and pid namespaces: no CAP_SYS_ADMIN/CAP_SYS_CHROOT "
            "(systemd/jvm-dumper.conf gives them)");
  // The Kubernetes sidecar: uid 10001, no capabilities.
  EXPECT_EQ(describeChildLimits(10001, {}),
            "exec hooks run as uid 10001 (ours), not exec.user, and jcmd reaches only JVMs of uid "
            "10001: no CAP_SETUID/CAP_SETGID; jcmd cannot enter a JVM's mount and pid namespaces: "
            "no CAP_SYS_ADMIN/CAP_SYS_CHROOT (systemd/jvm-dumper.conf gives them)");
  // Root that may switch users but not make their files private.
  std::string no_fowner = describeChildLimits(
      0, {CAP_SETUID, CAP_SETGID, CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_DAC_READ_SEARCH});
  EXPECT_THAT(no_fowner, HasSubstr("cannot be made 0600"));
  EXPECT_EQ(no_fowner.find(';'), std::string::npos) << "one finding, one clause: " << no_fowner;
}

}  // namespace
}  // namespace oomsentinel

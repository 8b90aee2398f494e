#include "dumpers/jvm_attach.h"

#include <gtest/gtest.h>

#include <string>

namespace oomsentinel {
namespace {

using namespace std::string_literals;

TEST(JvmAttachRequest, IsProtocolOneWithTheCommandLineAndTwoEmptyArguments) {
  // What jcmd (sun.tools.attach.VirtualMachineImpl of JDK 17) sends for `jcmd PID
  // GC.class_histogram -all`: the version, the operation, then exactly three arguments, each ended
  // by a NUL.
  EXPECT_EQ(attachRequest("GC.class_histogram -all"), "1\0jcmd\0GC.class_histogram -all\0\0\0"s);
  AttachCall call;
  ASSERT_TRUE(prepareAttachCall(call, 42, "VM.version", true).ok());
  EXPECT_EQ(std::string(call.request, call.request_len), "1\0jcmd\0VM.version\0\0\0"s);
  EXPECT_STREQ(call.socket, "/tmp/.java_pid42");
  EXPECT_STREQ(call.trigger, "/tmp/.attach_pid42");
  EXPECT_EQ(call.nspid, 42);
  EXPECT_TRUE(call.may_start_listener);
}

TEST(JvmAttachRequest, RefusesWhatHotSpotWouldNotTake) {
  AttachCall call;
  EXPECT_FALSE(prepareAttachCall(call, 1, std::string(1025, 'a'), false).ok());
  EXPECT_FALSE(prepareAttachCall(call, 1, "GC.heap_dump /tmp/a\0b"s, false).ok());
  EXPECT_TRUE(prepareAttachCall(call, 1, std::string(1024, 'a'), false).ok());
  EXPECT_EQ(call.request_len, 7u + 1024u + 3u);
}

TEST(JvmAttachStatus, ReadsTheStatusLineAndWhereTheBodyStarts) {
  auto ok = parseAttachStatus("0\n num     #instances");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 0);
  EXPECT_EQ(ok->body, 2u);
  // A JDK 17 JVM's answer to an unknown command.
  auto refused =
      parseAttachStatus("-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, -1);
  EXPECT_EQ(refused->body, 3u);
  auto longest = parseAttachStatus("-123456789\n");
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->status, -123456789);
  EXPECT_EQ(longest->body, 11u);
}

TEST(JvmAttachStatus, GarbageOrAnUnfinishedLineIsNoStatus) {
  for (std::string bad :
       {""s, "\n"s, "-\n"s, "0"s, "12"s, "x\n"s, "0 \n"s, " 0\n"s, "HTTP/1.1 200 OK\r\n"s,
        "1234567890\n"s, "-1234567890\n"s, "--1\n"s, std::string(1 << 20, '7')})
    EXPECT_FALSE(parseAttachStatus(bad)) << bad.substr(0, 20);
}

}  // namespace
}  // namespace oomsentinel

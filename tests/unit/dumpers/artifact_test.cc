#include "dumpers/artifact.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

namespace oomsentinel {
namespace {

using oomsentinel::testing::slurp;

using testing::TempDir;

mode_t modeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(Artifact, Sha256OfKnownInputs) {
  // FIPS 180-2's examples.
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Artifact, WritesPrivateFilesWithSizeAndDigestAndCutsAtTheCap) {
  TempDir dir;
  auto a = writeArtifact(dir.path(), "status.txt", "abc", 0);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_EQ(a->file, "status.txt");
  EXPECT_EQ(a->bytes, 3u);
  EXPECT_FALSE(a->truncated);
  EXPECT_EQ(a->sha256, sha256Hex("abc"));
  EXPECT_EQ(modeOf(dir.path() + "/status.txt"), 0600u);

  auto cut = writeArtifact(dir.path(), "big", "abcdef", 4);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->bytes, 4u);
  EXPECT_EQ(slurp(dir.path() + "/big"), "abcd");
  EXPECT_EQ(cut->sha256, sha256Hex("abcd"));

  // An artifact is never overwritten.
  auto again = writeArtifact(dir.path(), "big", "x", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum, EEXIST);
}

TEST(Artifact, CopiesAFileUpToTheCap) {
  TempDir dir;
  std::string content(200 * 1024, 'p');
  content[12345] = 'q';
  dir.write("src.heap", content);
  auto whole = copyArtifact(dir.path(), "copy.heap", dir.path() + "/src.heap", 0);
  ASSERT_TRUE(whole.ok()) << whole.error().describe();
  EXPECT_EQ(whole->bytes, content.size());
  EXPECT_FALSE(whole->truncated);
  EXPECT_EQ(whole->sha256, sha256Hex(content));
  EXPECT_EQ(slurp(dir.path() + "/copy.heap"), content);
  EXPECT_EQ(modeOf(dir.path() + "/copy.heap"), 0600u);

  auto cut = copyArtifact(dir.path(), "cut.heap", dir.path() + "/src.heap", 100000);
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->truncated);
  EXPECT_EQ(cut->bytes, 100000u);
  EXPECT_EQ(cut->sha256, sha256Hex(std::string_view(content).substr(0, 100000)));
  auto exact = copyArtifact(dir.path(), "exact.heap", dir.path() + "/src.heap", content.size());
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact->truncated);

  auto missing = copyArtifact(dir.path(), "m", dir.path() + "/nope", 0);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().path, dir.path() + "/nope");
}

TEST(Artifact, FinishesAFileWrittenByOthers) {
  TempDir dir;
  dir.write("out.txt", "hello world");
  ::chmod((dir.path() + "/out.txt").c_str(), 0644);
  auto a = finishArtifact(dir.path(), "out.txt", 5);
  ASSERT_TRUE(a.ok()) << a.error().describe();
  EXPECT_TRUE(a->truncated);
  EXPECT_EQ(a->bytes, 5u);
  EXPECT_EQ(slurp(dir.path() + "/out.txt"), "hello");
  EXPECT_EQ(a->sha256, sha256Hex("hello"));
  EXPECT_EQ(modeOf(dir.path() + "/out.txt"), 0600u);
}

}  // namespace
}  // namespace oomsentinel

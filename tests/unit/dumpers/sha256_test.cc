#include "dumpers/sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>

namespace oomsentinel {
namespace {

std::string ours(const std::string& data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex();
}

std::string openssl(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  static const char* const kDigits = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kDigits[md[i] >> 4]);
    out.push_back(kDigits[md[i] & 15]);
  }
  return out;
}

// FIPS 180-4's examples (NIST's "SHA256.pdf" and the long-message test).
TEST(Sha256, MatchesThePublishedVectors) {
  EXPECT_EQ(ours(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ours("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ours("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(a.data(), a.size());
  EXPECT_EQ(million.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Every length around the padding's edges (55, 56, 63, 64 bytes in the last block), fed whole and
// in uneven pieces, agrees with OpenSSL.
TEST(Sha256, AgreesWithOpenSslAtEveryLengthAndSplit) {
  std::mt19937 rng(7);
  for (std::size_t n = 0; n <= 300; ++n) {
    std::string data(n, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    std::string want = openssl(data);
    ASSERT_EQ(ours(data), want) << n << " bytes";
    Sha256 pieces;
    for (std::size_t at = 0; at < n;) {
      std::size_t step = std::min<std::size_t>(n - at, 1 + rng() % 70);
      pieces.update(data.data() + at, step);
      at += step;
    }
    ASSERT_EQ(pieces.hex(), want) << n << " bytes in pieces";
  }
}

}  // namespace
}  // namespace oomsentinel

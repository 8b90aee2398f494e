// dumpers/: capturing evidence.
// SHA-256 (FIPS 180-4) for the manifest's per-file digests. Written here rather than taken from
// libcrypto: linking OpenSSL only for this kept about a mebibyte of its tables resident in every
// daemon, whether or not it ever wrote a bundle (issue 7's RSS target).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace oomsentinel {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  // The digest of everything given so far, as 64 lower-case hex digits. Ends the hash: call
  // update() no more after it.
  std::string hex();

 private:
  void block(const unsigned char* p);

  std::array<std::uint32_t, 8> h_;
  std::array<unsigned char, 64> buf_{};
  std::size_t used_ = 0;     // bytes waiting in buf_
  std::uint64_t total_ = 0;  // bytes given, for the length in the padding
};

}  // namespace oomsentinel

// tests/: helpers shared by the test binaries.
// A throwaway certificate authority for TLS tests, made at test time with OpenSSL's API (P-256
// keys, SHA-256, valid from an hour ago for a day): no fixture key ever expires or leaks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace oomsentinel::testing {

// A certificate and its unencrypted private key, as PEM files.
struct TlsFiles {
  std::string cert;
  std::string key;
};

class TestCa {
 public:
  // A self-signed CA named `name`, its files in a fresh temporary directory (removed with it).
  explicit TestCa(const std::string& name = "oomsentinel test CA");
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // The CA certificate (what a client trusts) and key.
  const TlsFiles& files() const { return files_; }
  const std::string& dir() const { return dir_.path(); }

  // A certificate for `name` signed by this CA, with subjectAltNames such as "DNS:localhost",
  // "IP:127.0.0.1"; for a TLS client (extendedKeyUsage clientAuth) or a server (serverAuth).
  // Written to dir()/<name>.crt and .key. Throws std::runtime_error when OpenSSL fails.
  enum class Use { kServer, kClient };
  TlsFiles issue(const std::string& name, const std::vector<std::string>& alt_names,
                 Use use = Use::kServer) const;

 private:
  struct Keys;
  TempDir dir_;
  std::unique_ptr<Keys> keys_;
  TlsFiles files_;
};

}  // namespace oomsentinel::testing

#include "tests/support/tls_test_certs.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <stdexcept>

namespace oomsentinel::testing {

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

[[noreturn]] void fail(const std::string& what) {
  char reason[256] = "no reason given";
  if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  throw std::runtime_error("test certificate: " + what + ": " + reason);
}

PkeyPtr newKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("EC key generation");
  return key;
}

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (!ext) fail("extension " + value);
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  if (!ok) fail("adding extension " + value);
}

// A certificate for `subject_key`, signed by `issuer` (itself when null) with `issuer_key`.
X509Ptr makeCert(const std::string& common_name, EVP_PKEY* subject_key, X509* issuer,
                 EVP_PKEY* issuer_key, const std::vector<std::pair<int, std::string>>& exts) {
  static std::atomic<long> serial{1000};
  X509Ptr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) addExtension(cert.get(), &ctx, nid, value);
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) fail("signing " + common_name);
  return cert;
}

void writePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::unique_ptr<std::FILE, FileClose> f(std::fopen(path.c_str(), "w"));
  if (!f) throw std::runtime_error("test certificate: cannot write " + path);
  if (cert ? PEM_write_X509(f.get(), cert) != 1
           : PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("writing " + path);
}

std::string fileName(const std::string& name) {
  std::string out;
  for (char c : name) out += (c == '/' || c == ' ') ? '_' : c;
  return out;
}

}  // namespace

struct TestCa::Keys {
  PkeyPtr key;
  X509Ptr cert;
};

TestCa::TestCa(const std::string& name) : keys_(std::make_unique<Keys>()) {
  keys_->key = newKey();
  keys_->cert = makeCert(name, keys_->key.get(), nullptr, keys_->key.get(),
                         {{NID_basic_constraints, "critical,CA:TRUE"},
                          {NID_key_usage, "critical,keyCertSign,cRLSign"},
                          {NID_subject_key_identifier, "hash"}});
  files_.cert = dir_.path() + "/" + fileName(name) + ".crt";
  files_.key = dir_.path() + "/" + fileName(name) + ".key";
  writePem(files_.cert, keys_->cert.get(), nullptr);
  writePem(files_.key, nullptr, keys_->key.get());
}

TestCa::~TestCa() = default;

TlsFiles TestCa::issue(const std::string& name, const std::vector<std::string>& alt_names,
                       Use use) const {
  PkeyPtr key = newKey();
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, use == Use::kClient ? "clientAuth" : "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"}};
  std::string sans;
  for (const auto& n : alt_names) sans += (sans.empty() ? "" : ",") + n;
  if (!sans.empty()) exts.emplace_back(NID_subject_alt_name, sans);
  X509Ptr cert = makeCert(name, key.get(), keys_->cert.get(), keys_->key.get(), exts);
  TlsFiles out{dir_.path() + "/" + fileName(name) + ".crt",
               dir_.path() + "/" + fileName(name) + ".key"};
  writePem(out.cert, cert.get(), nullptr);
  writePem(out.key, nullptr, key.get());
  return out;
}

}  // namespace oomsentinel::testing

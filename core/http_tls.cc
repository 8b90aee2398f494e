#include "core/http_tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <memory>

namespace oomsentinel {

namespace {

// OpenSSL's queued reasons, oldest first, joined; the queue is left empty.
std::string takeOpensslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    std::string text = reason ? reason : "error " + std::to_string(code);
    if (out.find(text) != std::string::npos) continue;
    out += (out.empty() ? "" : "; ") + text;
  }
  return out.empty() ? "no reason given" : out;
}

Error fileError(const std::string& path, const std::string& what) {
  return makeError(what + ": " + takeOpensslErrors(), path);
}

// Opening the file first tells "missing or unreadable" (with errno) from "not PEM".
Status checkReadable(const std::string& path, const std::string& role) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return makeError("cannot read the TLS " + role, path, errno);
  ::close(fd);
  return Ok{};
}

// A key file must never make OpenSSL ask for a passphrase on a terminal.
int noPassphrase(char*, int, int, void*) { return -1; }

bool isIpAddress(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

Status loadClientCertificate(SSL_CTX* ctx, const TlsOptions& o) {
  if (auto ok = checkReadable(o.cert_file, "client certificate file"); !ok) return ok;
  if (auto ok = checkReadable(o.key_file, "client key file"); !ok) return ok;
  if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1)
    return fileError(o.cert_file, "not a PEM client certificate");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(o.key_file.c_str(), "r"));
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (bio) key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr));
  if (!key)
    return fileError(o.key_file,
                     "not a PEM private key (a passphrase-protected key is not supported)");
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key.get()) != 1) {
    ERR_clear_error();
    return makeError("the private key does not match the client certificate " + o.cert_file,
                     o.key_file);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
    return fileError(o.key_file, "the private key was refused");
  return Ok{};
}

}  // namespace

TlsClientContext::TlsClientContext(const TlsOptions& options)
    : ctx_(boost::asio::ssl::context::tls_client), options_(options) {}

Result<TlsContextPtr> buildTlsClientContext(const TlsOptions& o) {
  ERR_clear_error();
  if (o.cert_file.empty() != o.key_file.empty())
    return makeError(o.cert_file.empty()
                         ? "a TLS client key needs its certificate (cert_file) too"
                         : "a TLS client certificate needs its private key (key_file) too",
                     o.cert_file.empty() ? o.key_file : o.cert_file);
  auto context = std::make_shared<TlsClientContext>(o);
  SSL_CTX* ctx = context->context().native_handle();
  SSL_CTX_set_default_passwd_cb(ctx, noPassphrase);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    return makeError("cannot require TLS 1.2 or later: " + takeOpensslErrors());
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (!o.ca_file.empty()) {
    if (auto ok = checkReadable(o.ca_file, "CA file"); !ok) return ok.error();
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1)
      return fileError(o.ca_file, "not a PEM CA certificate bundle");
  } else if (!o.insecure_skip_verify && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return makeError("cannot load the system's CA certificates: " + takeOpensslErrors());
  }
  if (!o.cert_file.empty())
    if (auto ok = loadClientCertificate(ctx, o); !ok) return ok.error();
  SSL_CTX_set_verify(ctx, o.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
  return TlsContextPtr(std::move(context));
}

Status TlsClientContext::prepare(SSL* ssl, const std::string& url_host) const {
  const std::string& name = options_.server_name.empty() ? url_host : options_.server_name;
  bool ip = isIpAddress(name);
  if (!ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1)
    return makeError("cannot send '" + name + "' as the TLS server name: " + takeOpensslErrors());
  if (options_.insecure_skip_verify) return Ok{};
  if (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1
         : SSL_set1_host(ssl, name.c_str()) != 1)
    return makeError("cannot verify the TLS peer as '" + name + "': " + takeOpensslErrors());
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return Ok{};
}

Result<TlsContextPtr> defaultTlsClientContext() {
  static const Result<TlsContextPtr> context = buildTlsClientContext(TlsOptions{});
  return context;
}

std::string describeTlsError(const boost::system::error_code& ec, SSL* ssl) {
  std::string text = ec.message();
  if (ec.category() != boost::asio::error::get_ssl_category()) return text;
  auto code = static_cast<unsigned long>(ec.value());
  if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && ssl) {
    long why = SSL_get_verify_result(ssl);
    if (why != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(why) + ")";
  }
  return text;
}

bool isTlsTruncation(const boost::system::error_code& ec) {
  if (ec == boost::asio::ssl::error::stream_truncated) return true;
  return ec.category() == boost::asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) ==
             SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

}  // namespace oomsentinel

// core/: the shared vocabulary of oomsentinel.
// The inside of the HTTP client's TLS (OpenSSL through Boost.Asio): the prepared client context
// that core/http_client.h names only by a forward declaration, so that its callers need no
// OpenSSL headers. Part of the TLS module (core/http_tls_module.h): only the module's sources
// include this.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <string>

#include "core/http_client.h"

namespace oomsentinel {

// One SSL_CTX, built once from a TlsOptions and never changed after: connections made from it
// on any thread share it (OpenSSL allows that once the context is set up).
class TlsClientContext {
 public:
  explicit TlsClientContext(const TlsOptions& options);
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // Asio wants a mutable context to make a stream; making one changes nothing in it.
  boost::asio::ssl::context& context() const { return ctx_; }
  const TlsOptions& options() const { return options_; }

  // Readies one connection to `url_host`: the SNI name (not for an IP address, RFC 6066) and the
  // name or address the peer's certificate must carry, unless verification is off.
  Status prepare(SSL* ssl, const std::string& url_host) const;

 private:
  mutable boost::asio::ssl::context ctx_;
  TlsOptions options_;
};

// makeTlsClientContext's work, inside the module.
Result<TlsContextPtr> buildTlsClientContext(const TlsOptions& options);

// The context for an https URL whose request carries none: the system CA store, verification on.
// Built once per process, on first use.
Result<TlsContextPtr> defaultTlsClientContext();

// A TLS error in words: OpenSSL's reason, and for a failed verification why the peer's
// certificate was refused ("certificate verify failed (unable to get local issuer certificate)").
// `ssl` may be null.
std::string describeTlsError(const boost::system::error_code& ec, SSL* ssl);

// True when the peer closed the TCP connection without TLS's close_notify: OpenSSL 3 reports it
// as an "unexpected eof" error, older ones as Asio's stream_truncated.
bool isTlsTruncation(const boost::system::error_code& ec);

}  // namespace oomsentinel

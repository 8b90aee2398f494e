// The TLS half of the HTTP client, built as the module oomsentinel-tls.so (core/http_tls_module.h):
// the TLS transport for http_detail::Exchange and the module's entry point.
#include "core/http_tls_module.h"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/ssl.hpp>
#include <functional>
#include <string>

#include "core/http_exchange.h"
#include "core/http_tls.h"

#ifndef OOMSENTINEL_VERSION
#error "OOMSENTINEL_VERSION must be defined by the build"
#endif

namespace oomsentinel {
namespace {

struct TlsTransport {
  static constexpr bool kTls = true;
  using Stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

  static Stream makeStream(boost::asio::io_context& io, const TlsClientContext* tls) {
    return Stream(io, tls->context());
  }
  static bool truncated(const boost::system::error_code& ec) { return isTlsTruncation(ec); }
  static std::string describe(const boost::system::error_code& ec, Stream& s) {
    return describeTlsError(ec, s.native_handle());
  }
  static Status prepare(const TlsClientContext& tls, Stream& s, const std::string& url_host) {
    return tls.prepare(s.native_handle(), url_host);
  }
  static void handshake(Stream& s, std::function<void(boost::system::error_code)> next) {
    s.async_handshake(boost::asio::ssl::stream_base::client, std::move(next));
  }
  static bool isTlsAlert(const boost::system::error_code& ec) {
    return ec.category() == boost::asio::error::get_ssl_category();
  }
};

void startTls(boost::asio::io_context& io, HttpRequest request, HttpCallback done,
              TlsContextPtr tls) {
  if (!tls) {
    auto fallback = defaultTlsClientContext();
    if (!fallback) return http_detail::failLater(io, request, fallback.error(), std::move(done));
    tls = *fallback;
  }
  std::make_shared<http_detail::Exchange<TlsTransport>>(io, std::move(request), std::move(done),
                                                        std::move(tls))
      ->start();
}

Result<TlsContextPtr> makeContext(const TlsOptions& options) {
  return buildTlsClientContext(options);
}

const TlsModuleApi kApi{sizeof(HttpRequest), sizeof(TlsOptions), sizeof(Error),
                        OOMSENTINEL_VERSION, &makeContext,       &startTls};

}  // namespace
}  // namespace oomsentinel

extern "C" const oomsentinel::TlsModuleApi* oomsentinel_tls_module_v1() {
  return &oomsentinel::kApi;
}

// core/: the shared vocabulary of oomsentinel.
// A bounded asynchronous HTTP/1.1 client (Boost.Beast) for the rooms that talk to targets and
// to the world: runtime endpoints, pprof dumps, Alertmanager. A separate library
// (oomsentinel_http) so that the rest of core stays free of Boost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

// Declared, not included: Asio's headers cost about a second of compile time in every
// translation unit that sees them, and a declaration of startHttpRequest needs only the name.
namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace oomsentinel {

// Which schemes Url::parse takes. Plain http is the default: a target's endpoints (runtime
// metrics, pprof) are on loopback or the pod network, so an https URL there is a mistake and is
// refused with an error that says so. Alertmanager and other outside services may use https.
enum class UrlSchemes { kHttpOnly, kHttpOrHttps };

// http://host[:port][/path[?query]] or https://... (default ports 80 and 443).
struct Url {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::string port = "80";
  std::string target = "/";     // path and query
  std::string scheme = "http";  // "http" or "https", in lower case

  static Result<Url> parse(std::string_view text, UrlSchemes schemes = UrlSchemes::kHttpOnly);
  // The same scheme, host and port with another path: go.expvar_url from go.pprof_url.
  Url withTarget(std::string target) const;
  std::string str() const;
  // host[:port] as the Host header carries it: an IPv6 address in brackets, the port left out
  // when it is the scheme's default.
  std::string authority() const;
  bool https() const { return scheme == "https"; }
};

// How an https exchange checks its peer and proves itself. Every file is PEM.
struct TlsOptions {
  // The CA certificates to trust; empty: the system's store (/etc/ssl/certs).
  std::string ca_file;
  // A client certificate (chain) and its unencrypted private key, for mutual TLS: both or none.
  std::string cert_file;
  std::string key_file;
  // The name sent as SNI and required in the server's certificate; empty: the URL's host (an IP
  // address is then matched against the certificate's IP subjectAltNames, and no SNI is sent).
  // The Host header still names the URL's host.
  std::string server_name;
  // Accept any server certificate. For tests and emergencies only: the traffic is then open to
  // anyone who can intercept it.
  bool insecure_skip_verify = false;
};

// An OpenSSL client context prepared from TlsOptions (core/http_tls.h; opaque here so callers
// need no OpenSSL headers). Immutable once built; share one per configuration between requests,
// threads and io_contexts.
class TlsClientContext;
using TlsContextPtr = std::shared_ptr<const TlsClientContext>;

// Builds the context once, when the configuration is loaded: it reads and checks every file now,
// so a mistake shows at load, not at the first alert. The Error names the file in Error::path
// and says what is wrong with it (cannot be read, not PEM, the key does not match the
// certificate, a certificate without its key). TLS 1.2 is the minimum; the peer is verified,
// name included, unless insecure_skip_verify. The first call loads the TLS module
// (core/http_tls_module.h); when it cannot be found, the error says where it was looked for.
Result<TlsContextPtr> makeTlsClientContext(const TlsOptions& options);

struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // One deadline for the whole exchange: name lookup, connect, TLS handshake, write, read.
  Duration timeout = std::chrono::seconds(1);
  // A response body larger than this is an error, and is not read further (with body_sink: it is
  // cut there, and the response says so).
  std::size_t max_body = 4 << 20;
  // Set: the body of a 2xx response is not kept in memory but handed to the sink piece by piece
  // (at most 64 KiB each) as it arrives, on the thread running the io_context, up to max_body
  // bytes; a longer one is cut there and marked HttpResponse::truncated, not failed. An Error from
  // the sink ends the exchange with it. The body of any other status is kept in
  // HttpResponse::body as usual, cut at kHttpStreamErrorBodyCap.
  std::function<Status(std::string_view)> body_sink;
  // The TLS context of an https URL (ignored for http). Null: a context with the default options
  // (the system's CA store, verification on), built once per process on first use.
  TlsContextPtr tls;
};

// What is kept of a non-2xx body when the request streams (the explanation, not a payload).
inline constexpr std::size_t kHttpStreamErrorBodyCap = 64 << 10;

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  std::string content_type;
  std::string body;  // empty for a 2xx body that went to HttpRequest::body_sink
  Duration took{};
  std::uint64_t body_bytes = 0;  // of the body, as kept or streamed
  bool truncated = false;        // only with body_sink: the body went on past the cap
};

using HttpCallback = std::function<void(Result<HttpResponse>)>;

// Starts `request` on `io` and returns at once; `done` runs exactly once, on a thread running
// `io`. Errors say which step failed ("connecting", "timed out after 500ms while reading", "body
// larger than the 4.00 MiB cap", "TLS handshake: certificate verify failed (unable to get local
// issuer certificate)") and name the URL in Error::path. A status other than 2xx is not an
// error here: callers decide (the body of a 500 is often the best explanation). Over https the
// connection is closed without waiting for the server's TLS close_notify (the response is
// complete by then, and a peer that never answers must not hold anything up). An https request
// goes through the TLS module, loaded on first use; plain http never loads it.
void startHttpRequest(boost::asio::io_context& io, HttpRequest request, HttpCallback done);

}  // namespace oomsentinel

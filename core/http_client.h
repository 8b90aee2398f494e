// core/: the shared vocabulary of oomsentinel.
// A bounded asynchronous HTTP/1.1 client (Boost.Beast) for the rooms that talk to targets and
// to the world: runtime endpoints, pprof dumps, Alertmanager. A separate library
// (oomsentinel_http) so that the rest of core stays free of Boost.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace oomsentinel {

// http://host[:port][/path[?query]]. Only plain http: endpoints of a target are on loopback or
// the pod network; https is refused with an error that says so.
struct Url {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::string port = "80";
  std::string target = "/";  // path and query

  static Result<Url> parse(std::string_view text);
  // The same host and port with another path: go.expvar_url from go.pprof_url.
  Url withTarget(std::string target) const;
  std::string str() const;
};

struct HttpRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // One deadline for the whole exchange: name lookup, connect, write, read.
  Duration timeout = std::chrono::seconds(1);
  // A response body larger than this is an error, and is not read further.
  std::size_t max_body = 4 << 20;
};

struct HttpResponse {
  unsigned status = 0;
  std::string reason;
  std::string content_type;
  std::string body;
  Duration took{};
};

using HttpCallback = std::function<void(Result<HttpResponse>)>;

// Starts `request` on `io` and returns at once; `done` runs exactly once, on a thread running
// `io`. Errors say which step failed ("connect", "timed out after 500ms while reading", "body
// larger than the 4.00 MiB cap") and name the URL in Error::path. A status other than 2xx is
// not an error here: callers decide (the body of a 500 is often the best explanation).
void startHttpRequest(boost::asio::io_context& io, HttpRequest request, HttpCallback done);

}  // namespace oomsentinel

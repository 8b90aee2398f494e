// fuzz/: libFuzzer harnesses for every parser of untrusted input.
// An HTTP response as the client reads it (core/http_exchange.h): status line, headers and body
// are the target's to choose. The reading is Boost.Beast's response parser with the client's
// limits (headers 64 KiB, the body cap, the declared Content-Length checked against the cap
// before the body is read); this harness feeds it the bytes as the exchange would, in the chunks
// a socket might deliver (the first byte picks the chunk size), and reads the fields the client
// keeps. The exchange itself (lookup, connect, deadline) is I/O and is covered by the unit tests'
// real servers, not here.
#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // 1..256 bytes a read, as a socket may cut the stream anywhere.
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const std::size_t n = size - 1;
  // The client's caps, made small so that the fuzzer reaches them.
  constexpr std::size_t kMaxBody = 4096;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  parser.header_limit(64 * 1024);
  boost::beast::error_code ec;
  // What a flat_buffer would hold: the bytes received and not yet consumed.
  std::size_t received = 0, consumed = 0;
  bool header_checked = false;
  while (!parser.is_done()) {
    if (received == n) {
      parser.put_eof(ec);
      break;
    }
    received = std::min(n, received + chunk);
    for (;;) {
      std::size_t used = parser.put(boost::asio::buffer(p + consumed, received - consumed), ec);
      consumed += used;
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return 0;
      if (parser.is_header_done() && !header_checked) {
        header_checked = true;
        if (auto length = parser.content_length(); length && *length > kMaxBody) return 0;
      }
      if (parser.is_done() || used == 0) break;
    }
  }
  if (ec || !parser.is_done()) return 0;
  auto& msg = parser.get();
  std::string reason(msg.reason());
  std::string content_type;
  if (auto it = msg.find(http::field::content_type); it != msg.end())
    content_type = std::string(it->value());
  if (msg.body().size() > kMaxBody) __builtin_trap();  // the cap let more through
  (void)msg.result_int();
  return 0;
}

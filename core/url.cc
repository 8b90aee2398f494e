// Url (core/http_client.h): parsing and printing http:// and https:// URLs.
#include <string>
#include <string_view>

#include "core/http_client.h"

namespace oomsentinel {

namespace {

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

Error urlError(std::string_view text, const std::string& why) {
  return makeError("not a usable URL: " + why, std::string(text));
}

// What is wrong with a URL's host (the text between "://" and the port; `bracketed`: it was in
// [...]), nullptr when nothing is.
const char* hostProblem(std::string_view host, bool bracketed) {
  // A name, an IPv4 address, or (bracketed) an IPv6 one with its zone: anything else would not
  // come back the same from str() (a '[' or a byte >= 0x80 outside brackets: found by fuzz_url).
  for (unsigned char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || (bracketed && (c == ':' || c == '%'));
    if (!ok) return "the host has a character a host name cannot have";
  }
  // In brackets only an IPv6 address (str() brackets a host with a ':', and only that:
  // "[D7%4]" printed back as "D7%4", which does not parse; found by fuzz_url).
  if (bracketed) {
    std::string_view addr = host.substr(0, host.find('%'));
    bool ok = addr.find(':') != std::string_view::npos;
    for (unsigned char c : addr)
      ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == ':' || c == '.');
    if (!ok) return "what is in brackets is not an IPv6 address";
  }
  return nullptr;
}

}  // namespace

Result<Url> Url::parse(std::string_view text, UrlSchemes schemes) {
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return urlError(text, "it contains a space or a control character");
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos)
    return urlError(text, "it has no scheme; write http://host:port/path");
  std::string_view scheme = text.substr(0, sep);
  Url url;
  if (equalsNoCase(scheme, "https")) {
    if (schemes != UrlSchemes::kHttpOrHttps)
      return urlError(text,
                      "https is not supported for this endpoint; use plain http (a target's "
                      "endpoints are on loopback or the pod network)");
    url.scheme = "https";
    url.port = "443";
  } else if (!equalsNoCase(scheme, "http")) {
    return urlError(text, "the scheme '" + std::string(scheme) + "' is not http" +
                              (schemes == UrlSchemes::kHttpOrHttps ? " or https" : ""));
  }
  std::string_view rest = text.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (std::size_t hash = path.find('#'); hash != std::string_view::npos)
    path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos)
    return urlError(text, "credentials in the URL are not supported");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return urlError(text, "an IPv6 address lacks its ']'");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return urlError(text, "junk after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return urlError(text, "the port is empty");
    }
  } else {
    std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return urlError(text, "the port is empty");
    }
  }
  if (url.host.empty()) return urlError(text, "the host is empty");
  if (const char* why = hostProblem(url.host, authority.front() == '[')) return urlError(text, why);
  if (!port.empty()) {
    unsigned long n = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || port.size() > 5)
        return urlError(text, "the port '" + std::string(port) + "' is not a number");
      n = n * 10 + static_cast<unsigned long>(c - '0');
    }
    if (n == 0 || n > 65535)
      return urlError(text, "the port " + std::to_string(n) + " is not in 1..65535");
    url.port = std::to_string(n);
  }
  if (path.empty())
    url.target = "/";
  else if (path.front() == '?')
    url.target = "/" + std::string(path);
  else
    url.target = std::string(path);
  return url;
}

Url Url::withTarget(std::string target) const {
  Url u = *this;
  u.target = std::move(target);
  return u;
}

std::string Url::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string out = v6 ? "[" + host + "]" : host;
  if (port != (https() ? "443" : "80")) out += ":" + port;
  return out;
}

std::string Url::str() const { return scheme + "://" + authority() + target; }

}  // namespace oomsentinel

// startHttpRequest over plain http, and the door to the TLS module for https
// (core/http_tls_module.h).
#include "core/http_client.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/host_paths.h"
#include "core/http_exchange.h"
#include "core/http_tls_module.h"

#ifndef OOMSENTINEL_VERSION
#error "OOMSENTINEL_VERSION must be defined by the build"
#endif
#ifndef OOMSENTINEL_TLS_MODULE_DIR
#error "OOMSENTINEL_TLS_MODULE_DIR (where the TLS module is installed) must be defined by the build"
#endif

namespace oomsentinel {

namespace {

struct PlainTransport {
  static constexpr bool kTls = false;
  using Stream = boost::beast::tcp_stream;

  static Stream makeStream(boost::asio::io_context& io, const TlsClientContext*) {
    return Stream(io);
  }
  static bool truncated(const boost::system::error_code&) { return false; }
  static std::string describe(const boost::system::error_code& ec, Stream&) { return ec.message(); }
};

// The folder of the running binary.
std::string binaryDir() {
  std::string buf(4096, '\0');
  ssize_t n =
      ::readlink(std::string(HostPaths::kOwnExecutable).c_str(), buf.data(), buf.size() - 1);
  if (n <= 0) return {};
  buf.resize(static_cast<std::size_t>(n));
  auto slash = buf.rfind('/');
  return slash == std::string::npos ? std::string() : buf.substr(0, slash);
}

std::string checkBuild(const TlsModuleApi* api) {
  if (api->request_size != sizeof(HttpRequest) || api->options_size != sizeof(TlsOptions) ||
      api->error_size != sizeof(Error))
    return "it comes from another build of oomsentinel (its types differ)";
  if (std::string(api->version) != OOMSENTINEL_VERSION)
    return std::string("it is version ") + api->version + ", this binary " + OOMSENTINEL_VERSION;
  return {};
}

Result<const TlsModuleApi*> loadTlsModule() {
  std::vector<std::string> places;
  if (const char* forced = std::getenv("OOMSENTINEL_TLS_MODULE"); forced && *forced) {
    places.emplace_back(forced);
  } else {
    if (std::string dir = binaryDir(); !dir.empty())
      places.push_back(dir + "/" + kTlsModuleDirFromBinary + "/" + kTlsModuleFile);
    places.push_back(std::string(OOMSENTINEL_TLS_MODULE_DIR) + "/" + kTlsModuleFile);
  }
  std::string why;
  for (const std::string& path : places) {
    if (::access(path.c_str(), F_OK) != 0) {
      why += (why.empty() ? "" : "; ") + path + ": " + std::strerror(errno);
      continue;
    }
    // Never closed: contexts, streams and Asio services made by its code live as long as the
    // process.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!handle) {
      const char* err = ::dlerror();
      why += (why.empty() ? "" : "; ") + std::string(err ? err : path + ": cannot be loaded");
      continue;
    }
    auto entry =
        reinterpret_cast<const TlsModuleApi* (*)()>(::dlsym(handle, OOMSENTINEL_TLS_MODULE_ENTRY));
    if (!entry) {
      why += (why.empty() ? "" : "; ") + path + ": not oomsentinel's TLS module (no " +
             OOMSENTINEL_TLS_MODULE_ENTRY + ")";
      continue;
    }
    const TlsModuleApi* api = entry();
    if (std::string wrong = checkBuild(api); !wrong.empty()) {
      why += (why.empty() ? "" : "; ") + path + ": " + wrong;
      continue;
    }
    return api;
  }
  return makeError(std::string("https needs oomsentinel's TLS module ") + kTlsModuleFile +
                   ", which could not be loaded: " + why +
                   ". Install it with the binary (cmake --install puts it in " +
                   OOMSENTINEL_TLS_MODULE_DIR + ") or point OOMSENTINEL_TLS_MODULE at it");
}

}  // namespace

Result<const TlsModuleApi*> tlsModule() {
  static const Result<const TlsModuleApi*> loaded = loadTlsModule();
  return loaded;
}

Result<TlsContextPtr> makeTlsClientContext(const TlsOptions& options) {
  auto module = tlsModule();
  if (!module) return module.error();
  return (*module)->make_context(options);
}

void startHttpRequest(boost::asio::io_context& io, HttpRequest request, HttpCallback done) {
  if (!request.url.https()) {
    std::make_shared<http_detail::Exchange<PlainTransport>>(io, std::move(request), std::move(done),
                                                            nullptr)
        ->start();
    return;
  }
  auto module = tlsModule();
  if (!module) return http_detail::failLater(io, request, module.error(), std::move(done));
  TlsContextPtr tls = request.tls;
  (*module)->start(io, std::move(request), std::move(done), std::move(tls));
}

}  // namespace oomsentinel

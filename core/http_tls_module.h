// core/: the shared vocabulary of oomsentinel.
// The TLS module's interface. OpenSSL (libssl and libcrypto) keeps well over a mebibyte of
// tables resident in a process just by being linked, and most daemons never speak https: only an
// https:// Alertmanager URL needs it. So the https half of the HTTP client is built as a module,
// oomsentinel-tls.so, which core/http_client.cc loads with dlopen the first time an https context
// or request is made, and never unloads. Plain http never touches it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>

#include "core/http_client.h"

namespace oomsentinel {

struct TlsModuleApi {
  // The module and the binary come from one build; these catch a module of another build found
  // on the search path before any call goes wrong in a confusing way.
  std::size_t request_size;
  std::size_t options_size;
  std::size_t error_size;
  const char* version;
  Result<TlsContextPtr> (*make_context)(const TlsOptions& options);
  // `tls` null: the default context (system CA store, verification on), built on first use.
  void (*start)(boost::asio::io_context& io, HttpRequest request, HttpCallback done,
                TlsContextPtr tls);
};

// The module's one exported symbol.
#define OOMSENTINEL_TLS_MODULE_ENTRY "oomsentinel_tls_module_v1"
extern "C" const TlsModuleApi* oomsentinel_tls_module_v1();

// The module's file name, and the folder beside the binary's where it is installed.
inline constexpr const char* kTlsModuleFile = "oomsentinel-tls.so";
inline constexpr const char* kTlsModuleDirFromBinary = "../lib/oomsentinel";

// Loads the module once per process (the result, success or failure, is kept). Where it looks,
// in order: $OOMSENTINEL_TLS_MODULE when set (and nowhere else then); the folder
// kTlsModuleDirFromBinary relative to the running binary (the build tree and a /usr/local
// layout); the library folder fixed at configure time. The error names every place tried and
// why each failed.
Result<const TlsModuleApi*> tlsModule();

}  // namespace oomsentinel

#include "core/result.h"

#include <cerrno>
#include <cstring>

namespace oomsentinel {

std::string Error::describe() const {
  std::string out;
  if (!path.empty()) {
    out += path;
    out += ": ";
  }
  out += message;
  if (errnum != 0) {
    out += " (";
    out += std::strerror(errnum);
    out += ")";
  }
  return out;
}

bool Error::isGone() const { return errnum == ENOENT || errnum == ENODEV || errnum == ESTALE; }

Error makeError(std::string message, std::string path, int errnum) {
  return Error{errnum, std::move(message), std::move(path)};
}

}  // namespace oomsentinel

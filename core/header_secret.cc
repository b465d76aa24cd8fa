#include "core/header_secret.h"

#include <algorithm>

#include "core/bounded_read.h"

namespace obsmon {

Result<std::string> ReadHeaderSecretFile(const std::string& path) {
  auto text = ReadRegularFile(path, kMaxHeaderSecretBytes + 2);  // + a trailing "\r\n"
  if (!text.ok()) return text.status();
  std::string secret = std::move(*text);
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty() || secret.size() > kMaxHeaderSecretBytes) {
    return Status::InvalidArgument("'" + path + "' is empty or larger than 4 KiB");
  }
  const bool control = std::any_of(secret.begin(), secret.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && u != '\t') || u == 0x7f;
  });
  if (control || secret.front() == ' ' || secret.front() == '\t' || secret.back() == ' ' ||
      secret.back() == '\t') {
    return Status::InvalidArgument("'" + path +
                                   "' holds a control byte (NUL, newline inside, ...) or starts or "
                                   "ends with a space or tab; no HTTP header could carry it");
  }
  return secret;
}

}  // namespace obsmon

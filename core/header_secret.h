// A secret that goes into an HTTP header (a bearer token, a password), read from its file.
// Shared by what sends such headers (alert receivers, digest destinations) and what checks them
// (web.auth): one rule for all, since httplib writes a header value as given, so a newline inside
// the file would become a header of its own (request smuggling), and a server refuses control
// bytes and strips outer blanks, so such a secret could never match.
#pragma once

#include <string>

#include "core/status.h"

namespace obsmon {

inline constexpr size_t kMaxHeaderSecretBytes = 4096;

// The file's text without its trailing newline (`echo secret > file`). InvalidArgument when it is
// empty, larger than 4 KiB, holds a control byte (NUL, a newline inside, ...) or starts or ends
// with a space or tab; the reader's Status when it is not a readable regular file (bounded:
// /dev/zero or a FIFO is an error at once). The secret never appears in a message.
Result<std::string> ReadHeaderSecretFile(const std::string& path);

}  // namespace obsmon

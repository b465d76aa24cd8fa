// Whether a CA bundle's text holds certificates TLS can load: every PEM block that says it is a
// certificate must decode as an X.509 certificate (OpenSSL), and there must be at least one. A
// file with the right header and a broken body would otherwise pass the config check and fail
// every handshake for ever. Thread-safe.
#pragma once

#include <string_view>

#include "core/status.h"

namespace obsmon::remote {

// Ok, or InvalidArgument saying which certificate (1-based) is not one.
Status CheckPemCertificates(std::string_view pem);

}  // namespace obsmon::remote

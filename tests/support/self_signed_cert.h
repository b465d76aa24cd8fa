// Test support: a self-signed certificate for TLS tests. Header-only.
#pragma once

#include <string>
#include <utility>

#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::testing {

// Writes a self-signed certificate for localhost and 127.0.0.1, valid a day, to dir's cert.pem
// with its key in key.pem, with the openssl CLI; openssl's exit code and output.
inline std::pair<int, std::string> MakeSelfSignedCertificate(const ScratchDir& dir) {
  return RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                     "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                     "-keyout", dir.File("key.pem"), "-out", dir.File("cert.pem")},
                    dir.File("openssl.out"));
}

}  // namespace obsmon::testing

#include "remote/pem_certificates.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace obsmon::remote {

Status CheckPemCertificates(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return Status::Internal("cannot read the certificates (out of memory)");
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  size_t blocks = 0;
  for (size_t at = pem.find(kBegin); at != std::string_view::npos; at = pem.find(kBegin, at + 1)) {
    ++blocks;
  }
  size_t read = 0;
  for (;;) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
    if (!cert) break;
    ++read;
  }
  ERR_clear_error();  // the end of the input is reported as an error too
  if (read < blocks) {
    return Status::InvalidArgument("certificate " + std::to_string(read + 1) + " of " +
                                   std::to_string(blocks) + " is not a valid X.509 certificate");
  }
  if (read == 0) return Status::InvalidArgument("no certificate TLS can load");
  return Status::Ok();
}

}  // namespace obsmon::remote

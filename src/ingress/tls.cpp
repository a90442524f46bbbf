#include "cjhub/ingress/tls.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <stdexcept>

namespace cjhub::ingress {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites: ECDHE key exchange with AEAD only. TLS 1.3 suites are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int load_crls(X509_STORE* store, const std::filesystem::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) throw std::runtime_error(fmt::format("tls.crl: cannot open {}", file.string()));
  int n = 0;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) {
    X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    ++n;
  }
  std::fclose(f);
  ERR_clear_error();  // end of file
  if (n == 0) throw std::runtime_error(fmt::format("tls.crl: no PEM CRL in {}", file.string()));
  return n;
}

}  // namespace

std::shared_ptr<ssl::context> make_server_context(const config::Tls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* raw = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_min_proto_version(raw, tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(raw, kTls12Ciphers) != 1) {
    throw std::runtime_error("TLS cipher list rejected: " + openssl_error());
  }
  if (SSL_CTX_use_certificate_chain_file(raw, tls.server_cert.c_str()) != 1) {
    throw std::runtime_error(fmt::format("tls.server_cert: {}: {}", tls.server_cert.string(), openssl_error()));
  }
  if (SSL_CTX_use_PrivateKey_file(raw, tls.server_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw std::runtime_error(fmt::format("tls.server_key: {}: {}", tls.server_key.string(), openssl_error()));
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    throw std::runtime_error("tls.server_key does not match tls.server_cert");
  }
  if (SSL_CTX_load_verify_locations(raw, tls.client_ca.c_str(), nullptr) != 1) {
    throw std::runtime_error(fmt::format("tls.client_ca: {}: {}", tls.client_ca.string(), openssl_error()));
  }
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str())) {
    SSL_CTX_set_client_CA_list(raw, names);  // tells clients which CAs we accept
  }
  X509_STORE* store = SSL_CTX_get_cert_store(raw);
  if (tls.crl) {
    load_crls(store, *tls.crl);
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  // A client certificate must be fit for TLS client authentication.
  X509_STORE_set_purpose(store, X509_PURPOSE_SSL_CLIENT);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  static constexpr unsigned char kSessionContext[] = "cjhub";
  SSL_CTX_set_session_id_context(raw, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

}  // namespace cjhub::ingress

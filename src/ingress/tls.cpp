#include "cjhub/ingress/tls.hpp"

#include "cjhub/common/crypto.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
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
  require_private_key_file(tls.server_key.string(), "tls.server_key");
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
  // A bounded chain: a client cannot make the hub walk a long chain of intermediates.
  SSL_CTX_set_verify_depth(raw, tls.verify_depth);
  // No session tickets (TLS 1.2 and 1.3): a ticket key would live as long as the process and
  // would need rotating; resumption uses the server's session cache instead, whose entries expire
  // after five minutes and die with the process.
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(raw, 0);
  SSL_CTX_set_timeout(raw, 300);
  static constexpr unsigned char kSessionContext[] = "cjhub";
  SSL_CTX_set_session_id_context(raw, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

namespace {

std::string asn1_time_text(const ASN1_TIME* t) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  ASN1_TIME_print(bio, t);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(std::max(0L, n)));
  BIO_free(bio);
  return out;
}

// Whole days from now until `t` (negative when past).
int days_until(const ASN1_TIME* t) {
  int days = 0, secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr, t) != 1) return 0;
  return days - ((days == 0 && secs < 0) ? 1 : 0);
}

void add(MaterialState& s, bool ok, bool warning, const std::string& text) {
  s.ok = s.ok && ok;
  s.warning = s.warning || warning;
  s.detail += (s.detail.empty() ? "" : "; ") + text;
}

}  // namespace

MaterialState inspect_certificates(const std::vector<std::pair<std::string, std::filesystem::path>>& certs,
                                   int warn_days) {
  MaterialState s;
  for (const auto& [name, file] : certs) {
    FILE* f = std::fopen(file.c_str(), "r");
    X509* cert = f != nullptr ? PEM_read_X509(f, nullptr, nullptr, nullptr) : nullptr;
    if (f != nullptr) std::fclose(f);
    ERR_clear_error();
    if (cert == nullptr) {
      add(s, false, false, name + " certificate unreadable (" + file.string() + ")");
      continue;
    }
    const ASN1_TIME* not_after = X509_get0_notAfter(cert);
    const ASN1_TIME* not_before = X509_get0_notBefore(cert);
    const int left = days_until(not_after);
    const std::string until = asn1_time_text(not_after);
    if (X509_cmp_current_time(not_before) > 0) {
      add(s, false, false, name + " certificate not valid before " + asn1_time_text(not_before));
    } else if (X509_cmp_current_time(not_after) < 0) {
      add(s, false, false, name + " certificate EXPIRED on " + until);
    } else if (left < warn_days) {
      add(s, true, true, fmt::format("{} certificate expires {} (in {} days): renew it", name, until, left));
    } else {
      add(s, true, false, fmt::format("{} certificate valid until {} ({} days)", name, until, left));
    }
    X509_free(cert);
  }
  return s;
}

MaterialState inspect_crl(const std::filesystem::path& file) {
  MaterialState s;
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) {
    add(s, false, false, "CRL unreadable (" + file.string() + ")");
    return s;
  }
  int n = 0;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) {
    ++n;
    const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl);
    if (next == nullptr) {
      add(s, true, false, "a CRL without nextUpdate");
    } else if (X509_cmp_current_time(next) < 0) {
      add(s, false, false, "CRL STALE since " + asn1_time_text(next) + ": load a fresh one and reload (SIGHUP)");
    } else if (days_until(next) < 1) {
      add(s, true, true, "CRL next update " + asn1_time_text(next) + " (within a day)");
    } else {
      add(s, true, false, "CRL next update " + asn1_time_text(next));
    }
    X509_CRL_free(crl);
  }
  std::fclose(f);
  ERR_clear_error();
  if (n == 0) add(s, false, false, "no PEM CRL in " + file.string());
  return s;
}

namespace {

std::optional<std::int64_t> unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm));
}

void keep_earliest(std::optional<std::int64_t>& earliest, std::optional<std::int64_t> t) {
  if (t && (!earliest || *t < *earliest)) earliest = t;
}

}  // namespace

std::optional<std::int64_t> earliest_not_after(const std::filesystem::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return std::nullopt;
  std::optional<std::int64_t> earliest;
  while (X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr)) {
    keep_earliest(earliest, unix_time(X509_get0_notAfter(cert)));
    X509_free(cert);
  }
  std::fclose(f);
  ERR_clear_error();  // end of file
  return earliest;
}

std::optional<std::int64_t> earliest_crl_next_update(const std::filesystem::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return std::nullopt;
  std::optional<std::int64_t> earliest;
  while (X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr)) {
    keep_earliest(earliest, unix_time(X509_CRL_get0_nextUpdate(crl)));
    X509_CRL_free(crl);
  }
  std::fclose(f);
  ERR_clear_error();
  return earliest;
}

}  // namespace cjhub::ingress

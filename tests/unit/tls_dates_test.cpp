// The dates the metrics export from the TLS files (ingress::earliest_not_after,
// ingress::earliest_crl_next_update): certificates and CRLs generated here with known dates.
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cjhub/ingress/tls.hpp"

namespace cjhub {
namespace {

namespace fs = std::filesystem;

EVP_PKEY* key() {
  static EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  return k;
}

void set_time(ASN1_TIME* t, std::int64_t unix_s) { ASSERT_NE(ASN1_TIME_set(t, static_cast<time_t>(unix_s)), nullptr); }

// A self-signed certificate valid until `not_after`, appended to `file`.
void append_cert(const fs::path& file, std::int64_t not_after) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  set_time(X509_getm_notBefore(x), 1700000000);
  set_time(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, key());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("dates"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  ASSERT_GT(X509_sign(x, key(), EVP_sha256()), 0);
  FILE* f = std::fopen(file.c_str(), "a");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(PEM_write_X509(f, x), 1);
  std::fclose(f);
  X509_free(x);
}

// A CRL whose nextUpdate is `next` (none when 0), appended to `file`.
void append_crl(const fs::path& file, std::int64_t next) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_NAME* name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("dates"), -1, -1, 0);
  X509_CRL_set_issuer_name(crl, name);
  X509_NAME_free(name);
  ASN1_TIME* t = ASN1_TIME_new();
  set_time(t, 1700000000);
  X509_CRL_set1_lastUpdate(crl, t);
  if (next != 0) {
    set_time(t, next);
    X509_CRL_set1_nextUpdate(crl, t);
  }
  ASN1_TIME_free(t);
  ASSERT_GT(X509_CRL_sign(crl, key(), EVP_sha256()), 0);
  FILE* f = std::fopen(file.c_str(), "a");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(PEM_write_X509_CRL(f, crl), 1);
  std::fclose(f);
  X509_CRL_free(crl);
}

class TlsDates : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cjhub-tls-dates-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TlsDates, TheEarliestNotAfterOfEveryCertificateInTheFile) {
  const auto one = dir_ / "one.pem";
  append_cert(one, 1893456000);  // 2030-01-01T00:00:00Z
  EXPECT_EQ(ingress::earliest_not_after(one), 1893456000);
  // A bundle (or a chain: leaf and intermediates): the earliest, wherever it stands; a date past
  // 2050 (GeneralizedTime) too.
  const auto bundle = dir_ / "bundle.pem";
  append_cert(bundle, 2556144000);  // 2051-01-01
  append_cert(bundle, 1798761600);  // 2027-01-01
  append_cert(bundle, 1893456000);
  EXPECT_EQ(ingress::earliest_not_after(bundle), 1798761600);
  EXPECT_EQ(ingress::earliest_not_after(dir_ / "missing.pem"), std::nullopt);
  std::ofstream(dir_ / "empty.pem") << "not a certificate\n";
  EXPECT_EQ(ingress::earliest_not_after(dir_ / "empty.pem"), std::nullopt);
}

TEST_F(TlsDates, TheEarliestNextUpdateOfTheCrlsInTheFile) {
  const auto crls = dir_ / "crl.pem";
  append_crl(crls, 1767225600);  // 2026-01-01
  EXPECT_EQ(ingress::earliest_crl_next_update(crls), 1767225600);
  append_crl(crls, 1764547200);  // 2025-12-01
  append_crl(crls, 0);           // a CRL without nextUpdate does not count
  EXPECT_EQ(ingress::earliest_crl_next_update(crls), 1764547200);
  const auto none = dir_ / "none.pem";
  append_crl(none, 0);
  EXPECT_EQ(ingress::earliest_crl_next_update(none), std::nullopt);
  EXPECT_EQ(ingress::earliest_crl_next_update(dir_ / "missing.pem"), std::nullopt);
}

}  // namespace
}  // namespace cjhub

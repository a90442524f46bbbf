#include "cjhub/identity/directory.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "cjhub/common/crypto.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/session.hpp"
#include "cjhub/store/database.hpp"

namespace cjhub::identity {

const char* to_string(Resolution r) noexcept {
  switch (r) {
    case Resolution::ok: return "ok";
    case Resolution::no_certificate: return "no_certificate";
    case Resolution::unknown: return "unknown";
    case Resolution::ambiguous: return "ambiguous";
    case Resolution::disabled: return "disabled";
  }
  return "?";
}

PeerCertificate describe(X509* cert) {
  PeerCertificate p;
  if (cert == nullptr) return p;
  p.present = true;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) == 1) p.sha256 = to_hex(md, len);
  if (std::tm tm{}; ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) p.not_after = timegm(&tm);

  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) p.subject.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      if (gn->type == GEN_URI) {
        const auto* s = gn->d.uniformResourceIdentifier;
        p.san_uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<std::size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  return p;
}

Snapshot::Snapshot(const std::vector<config::Agency>& active, const std::vector<config::Agency>& disabled) {
  for (const auto& a : active) {
    auto agency = std::make_shared<Agency>();
    agency->ori = a.ori;
    agency->name = a.name;
    agency->role = a.role;
    agency->sandbox = a.sandbox;
    agency->publish = std::set<std::string>(a.publish.begin(), a.publish.end());
    by_ori_[a.ori] = agency;
    for (const auto& id : a.identities) owner_[{id.kind, id.value}] = a.ori;
  }
  for (const auto& a : disabled) {
    by_ori_.emplace(a.ori, nullptr);
    for (const auto& id : a.identities) owner_.emplace(std::pair(id.kind, id.value), a.ori);
  }
}

Resolved Snapshot::resolve(const PeerCertificate& cert) const {
  if (!cert.present) return {Resolution::no_certificate, nullptr};
  std::set<std::string> oris;
  auto look = [&](config::IdentityKind k, const std::string& v) {
    if (v.empty()) return;
    auto it = owner_.find({k, v});
    if (it != owner_.end()) oris.insert(it->second);
  };
  look(config::IdentityKind::sha256, cert.sha256);
  for (const auto& u : cert.san_uris) look(config::IdentityKind::san_uri, u);
  look(config::IdentityKind::subject, cert.subject);
  if (oris.empty()) return {Resolution::unknown, nullptr};
  if (oris.size() > 1) return {Resolution::ambiguous, nullptr};
  auto it = by_ori_.find(*oris.begin());
  if (it == by_ori_.end() || !it->second) return {Resolution::disabled, nullptr};
  return {Resolution::ok, it->second};
}

DirectoryRefresher::DirectoryRefresher(Directory& dir, std::string db_url,
                                       std::chrono::milliseconds connect_timeout,
                                       std::chrono::seconds interval)
    : dir_(dir), url_(std::move(db_url)), connect_timeout_(connect_timeout), interval_(interval) {}

DirectoryRefresher::~DirectoryRefresher() { stop(std::chrono::steady_clock::now()); }

namespace {
std::shared_ptr<const Snapshot> load_snapshot(store::Connection& conn) {
  std::vector<config::Agency> active, disabled;
  for (auto& rec : store::load_agencies(conn)) {
    (rec.active ? active : disabled).push_back(std::move(rec.agency));
  }
  return std::make_shared<const Snapshot>(active, disabled);
}

}  // namespace

void DirectoryRefresher::start() {
  auto conn = store::connect(url_, connect_timeout_);
  dir_.replace(load_snapshot(*conn));
  log::get("identity")->info("agency directory loaded: {} agencies", dir_.current()->size());
  thread_ = std::thread([this] {
    name_this_thread("cjhub-directory");
    run();
  });
}

void DirectoryRefresher::stop(std::chrono::steady_clock::time_point) {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void DirectoryRefresher::run() {
  auto lg = log::get("identity");
  store::Session db(url_, connect_timeout_, {}, {"cjhub_agencies"});
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    try {
      // A NOTIFY, a reconnect (changes made while nobody listened count too), a request or the
      // interval: read the agencies again.
      db.get();
      if (db.take_notified() || refresh_requested_.exchange(false) || std::chrono::steady_clock::now() >= next) {
        const bool first = reloads_ == 0;
        dir_.replace(db.run([](store::Connection& c) { return load_snapshot(c); }));
        ++reloads_;
        if (!first) lg->info("agency directory reloaded: {} agencies", dir_.current()->size());
        next = std::chrono::steady_clock::now() + interval_;
      }
      db.wait(std::chrono::milliseconds(250));  // wake every 250 ms to notice stop()
    } catch (const std::exception& e) {
      lg->warn("agency directory listener lost the database ({}); retrying", e.what());
      db.reset();
      db.back_off([this] { return stopping_.load(); });
    }
  }
}

}  // namespace cjhub::identity

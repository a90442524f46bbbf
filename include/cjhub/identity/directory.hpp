// Who is calling: the client certificate presented in the TLS handshake, and the agency it maps
// to. The directory is an immutable snapshot swapped atomically when agencies change.
#pragma once

#include <atomic>
#include <cstdint>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cjhub/common/lifecycle.hpp"
#include "cjhub/config/agencies.hpp"

using X509 = struct x509_st;

namespace cjhub::identity {

// What identifies a client certificate.
struct PeerCertificate {
  std::vector<std::string> san_uris;
  std::string subject;  // RFC 2253
  std::string sha256;   // DER fingerprint, lower-case hex
  std::int64_t not_after = 0;  // Unix seconds; 0: unknown
  bool present = false;
};

PeerCertificate describe(X509* cert);

struct Agency {
  std::string ori;
  std::string name;
  config::Role role = config::Role::agency;
  std::set<std::string> publish;
  bool sandbox = false;  // a sandbox agency: its case keys carry intake::kSandboxCasePrefix
  bool is_operator() const { return role == config::Role::operator_; }
};

enum class Resolution { ok, no_certificate, unknown, ambiguous, disabled };
const char* to_string(Resolution r) noexcept;

struct Resolved {
  Resolution result = Resolution::unknown;
  std::shared_ptr<const Agency> agency;  // set when result == ok
};

class Snapshot {
 public:
  Snapshot() = default;
  Snapshot(const std::vector<config::Agency>& active, const std::vector<config::Agency>& disabled);
  Resolved resolve(const PeerCertificate& cert) const;
  std::size_t size() const { return by_ori_.size(); }
  // The active agency with this ORI, or null.
  std::shared_ptr<const Agency> find(const std::string& ori) const {
    const auto it = by_ori_.find(ori);
    return it == by_ori_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, std::shared_ptr<const Agency>> by_ori_;
  std::map<std::pair<config::IdentityKind, std::string>, std::string> owner_;  // identity -> ORI
};

class Directory {
 public:
  Directory() : current_(std::make_shared<const Snapshot>()) {}
  std::shared_ptr<const Snapshot> current() const { return std::atomic_load(&current_); }
  // A snapshot just read from the database (which also confirms the directory as current).
  void replace(std::shared_ptr<const Snapshot> s) {
    std::atomic_store(&current_, std::move(s));
    confirmed_ms_.store(now_ms());
  }
  Resolved resolve(const PeerCertificate& cert) const { return current()->resolve(cert); }
  // Time since the directory was last read from the database (the refresher reads it every
  // interval); it grows while the database cannot be reached.
  std::chrono::milliseconds age() const { return std::chrono::milliseconds(now_ms() - confirmed_ms_.load()); }

 private:
  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::int64_t> confirmed_ms_{now_ms()};
};

// Keeps a Directory in step with the database: loads it at start (start() throws if the database
// is unreachable), then reloads on NOTIFY cjhub_agencies (sent by `cjhub apply`) and every
// `interval` as a backstop. Runs one thread with its own connection.
class DirectoryRefresher final : public Component {
 public:
  DirectoryRefresher(Directory& dir, std::string db_url, std::chrono::milliseconds connect_timeout,
                     std::chrono::seconds interval = std::chrono::seconds(30));
  ~DirectoryRefresher() override;
  std::string name() const override { return "agency-directory"; }
  void start() override;
  void stop(std::chrono::steady_clock::time_point deadline) override;
  std::uint64_t reloads() const { return reloads_.load(); }
  // Reloads within a quarter of a second (SIGHUP), as a NOTIFY from `cjhub apply` would.
  void refresh_now() { refresh_requested_ = true; }

 private:
  void run();
  std::atomic<bool> refresh_requested_{false};
  Directory& dir_;
  std::string url_;
  std::chrono::milliseconds connect_timeout_;
  std::chrono::seconds interval_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> reloads_{0};
  std::thread thread_;
};

}  // namespace cjhub::identity

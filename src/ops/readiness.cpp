#include "cjhub/ops/readiness.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdio>

#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/common/utf8.hpp"
#include "cjhub/ingress/tls.hpp"
#include "cjhub/store/availability_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "cjhub/store/session.hpp"

namespace cjhub::ops {

ReadinessProbe::ReadinessProbe(ReadinessSettings s) : s_(std::move(s)) {
  if (s_.instance.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
    s_.instance = std::string(host) + ":" + std::to_string(::getpid()) + ":" + Uuid::v7().str().substr(24);
  }
}

ReadinessProbe::~ReadinessProbe() { stop(std::chrono::steady_clock::now()); }

void ReadinessProbe::start() {
  stopping_ = false;
  thread_ = std::thread([this] {
    name_this_thread("cjhub-readiness");
    run();
  });
  metrics_.set([this](std::vector<metrics::Sample>& out) {
    if (s_.schemas != nullptr) {
      out.push_back({"cjhub_schema_renewals_total", "Schema sets reloaded after namespace-table growth.", "counter",
                     "", static_cast<double>(s_.schemas->renewals())});
    }
    for (const auto& c : components()) {
      out.push_back({"cjhub_component_up", "1 when the /readyz component is ok (a warning is still ok), else 0.",
                     "gauge", "component=\"" + metrics::label_value(c.name) + "\"", c.ok ? 1.0 : 0.0});
    }
    std::lock_guard lock(mutex_);
    for (const auto& [label, t] : not_after_) {
      out.push_back({"cjhub_certificate_expiry_timestamp_seconds",
                     "Earliest notAfter of the certificates in the file (server chain, client chain, CA bundles).",
                     "gauge", "certificate=\"" + metrics::label_value(label) + "\"", static_cast<double>(t)});
    }
    if (crl_next_update_) {
      out.push_back({"cjhub_crl_next_update_timestamp_seconds", "Earliest nextUpdate of the CRLs in tls.crl.",
                     "gauge", "", static_cast<double>(*crl_next_update_)});
    }
  });
}

void ReadinessProbe::stop(std::chrono::steady_clock::time_point) {
  metrics_.reset();
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<api::Readiness::ComponentState> ReadinessProbe::components() const {
  std::vector<ComponentState> out;
  {
    std::lock_guard lock(mutex_);
    out.push_back(db_);
    out.push_back(tls_);
    if (crl_) out.push_back(*crl_);
  }
  const auto set = s_.schemas != nullptr ? s_.schemas->current() : nullptr;
  const bool schemas_ok = set && !set->types().empty();
  ComponentState schemas{
      "schemas", schemas_ok,
      schemas_ok ? fmt::format("{} message types, {} grammars in {} pool(s)", set->types().size(),
                               set->grammar_count(), set->pool_count())
                 : "no message types loaded"};
  // A reload that failed leaves the types in force serving: ready, but an operator should act.
  if (const auto problem = s_.schemas != nullptr ? s_.schemas->reload_problem() : std::string(); !problem.empty()) {
    schemas.warning = true;
    schemas.detail += "; the last reload failed, the types in force stay: " + utf8_capped(problem, 300);
  }
  out.push_back(std::move(schemas));
  if (s_.dispatcher_last_round_ms) {
    const auto last = s_.dispatcher_last_round_ms();
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const bool ok = last > 0 && now - last <= s_.dispatcher_stale_after.count();
    out.push_back({"dispatcher", ok,
                   last == 0 ? "no round yet"
                             : fmt::format("last round {} ms ago{}", now - last,
                                           ok ? "" : " (stalled: see the delivery log)")});
  }
  if (s_.directory_age) {
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(s_.directory_age());
    const bool ok = age <= s_.directory_max_age;
    const bool warn = age > 2 * s_.directory_refresh;
    out.push_back({"directory", ok,
                   fmt::format("agency directory confirmed {} s ago (reread every {} s){}", age.count(),
                               s_.directory_refresh.count(),
                               ok ? (warn ? ": the database has not answered since" : "")
                                  : fmt::format(": older than {} s, requests are refused", s_.directory_max_age.count())),
                   ok && warn});
  }
  {
    std::lock_guard lock(mutex_);
    if (endpoints_) out.push_back(*endpoints_);
  }
  // A drain has begun (SIGTERM): not ready, so that load balancers and orchestrators stop sending
  // before the listener closes.
  if (draining_.load()) out.push_back({"process", false, "draining: the hub is stopping"});
  return out;
}

bool ReadinessProbe::ready() const {
  for (const auto& c : components()) {
    if (!c.ok) return false;
  }
  return true;
}

void ReadinessProbe::begin_drain() { draining_ = true; }

void ReadinessProbe::run() {
  auto lg = log::get("ops");
  // Probes once a second whatever happened: no backoff, and a failed probe reconnects next time.
  store::Session db(s_.db_url, s_.connect_timeout, std::chrono::seconds(5));
  bool was_ok = true;
  std::string last_replication;
  auto last_slow = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    bool ok = false;
    std::string detail;
    std::vector<std::pair<std::string, std::string>> facts;
    try {
      db.get();
      const auto started = std::chrono::steady_clock::now();
      const auto node = db.run([](store::Connection& c) { return store::describe_node(c); });
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started).count();
      facts = {{"node", node.address}, {"role", node.standby ? "standby" : "primary"}, {"replication", node.replication()}};
      if (node.standby) {
        // A single-host URL that reaches a standby, or a node demoted under a kept connection:
        // nothing can be stored through it. Reconnect next time (a multi-host URL finds the primary).
        db.reset();
        detail = fmt::format("connected to a standby at {} (read-only): writes are refused", node.address);
        if (was_ok) log::warn(lg, {{"node", node.address}}, "readiness: the database at {} is a standby", node.address);
      } else {
        ok = true;
        detail = fmt::format("reachable, round trip {} us; primary {}, replication {}", us, node.address,
                             node.replication());
        if (node.replication() != last_replication) {
          if (!last_replication.empty()) {
            log::info(lg, {{"node", node.address}}, "readiness: database primary {}, replication {} (was {})",
                      node.address, node.replication(), last_replication);
          }
          last_replication = node.replication();
        }
      }
    } catch (const std::exception& e) {
      db.reset();
      detail = "unreachable";
      if (was_ok) lg->warn("readiness: database unreachable: {}", e.what());
    }
    if (ok && !was_ok) lg->info("readiness: database reachable again");
    was_ok = ok;
    {
      std::lock_guard lock(mutex_);
      db_ = {"database", ok, detail, false, std::move(facts)};
    }
    // Every few seconds: the files on disk and the endpoints' backlog.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_slow >= std::chrono::seconds(5)) {
      last_slow = now;
      const auto certs = ingress::inspect_certificates(s_.certificates, s_.expiry_warning_days);
      std::map<std::string, std::int64_t> not_after;
      for (const auto& [label, file] : s_.expiry_metrics) {
        if (const auto t = ingress::earliest_not_after(file)) not_after[label] = *t;
      }
      const auto crl_next = s_.crl ? ingress::earliest_crl_next_update(*s_.crl) : std::nullopt;
      std::optional<ComponentState> crl;
      if (s_.crl) {
        const auto c = ingress::inspect_crl(*s_.crl);
        crl = ComponentState{"crl", c.ok, c.detail, c.warning};
      } else {
        crl = ComponentState{"crl", true, "not configured: client certificates are not checked for revocation", true};
      }
      std::optional<ComponentState> endpoints;
      if (s_.dispatcher_last_round_ms && ok && db.connected()) {
        try {
          std::string text;
          bool warn = false;
          long long total = 0;
          for (const auto& e : db.run([](store::Connection& c) { return store::endpoint_backlogs(c); })) {
            total += e.backlog;
            const bool late = e.oldest_seconds > static_cast<double>(s_.endpoint_backlog_warning.count());
            const bool w = e.paused || late;
            warn = warn || w;
            text += fmt::format("{}{}/{}: pending {}{}, oldest due {:.0f} s{}{}", text.empty() ? "" : "; ", e.ori,
                                e.name, e.backlog, e.backlog >= 10000 ? "+" : "", e.oldest_seconds,
                                e.paused ? ", PAUSED" : "", late ? ", LATE" : "");
          }
          endpoints = ComponentState{"endpoints", true, text.empty() ? "no endpoints" : text, warn};
          keep_backlog(total);
        } catch (const std::exception& e) {
          endpoints = ComponentState{"endpoints", true, std::string("backlog unknown: ") + e.what(), true};
        }
      }
      std::lock_guard lock(mutex_);
      tls_ = {"tls", certs.ok, certs.detail, certs.warning};
      crl_ = crl;
      if (endpoints) endpoints_ = endpoints;
      not_after_ = std::move(not_after);
      crl_next_update_ = crl_next;
    }
    keep_history(db);
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  keep_history(db);
}

// One sample a second of every component, for the hub's own availability (the scorecard's `hub`);
// written every history_flush, and kept in memory while the database is away.
void ReadinessProbe::keep_history(store::Session& db) {
  if (!stopping_) history_.sample(components(), std::chrono::system_clock::now());
  const auto now = std::chrono::steady_clock::now();
  if (!stopping_ && now - history_written_ < s_.history_flush) return;
  const auto rows = history_.take();
  if (rows.empty()) return;
  try {
    db.get();
    db.run([&](store::Connection& c) { store::record_component_seconds(c, s_.instance, rows); });
    history_written_ = now;
  } catch (const std::exception& e) {
    db.reset();
    history_.restore(rows);
  }
}

void ReadinessProbe::keep_backlog(long long total) {
  const auto now = now_utc();
  std::lock_guard lock(mutex_);
  if (!backlog_.empty() && now - backlog_.back().at < kBacklogSpacing) return;
  backlog_.push_back({now, total});
  while (backlog_.size() > kBacklogSamples) backlog_.pop_front();
}

std::vector<api::BacklogSample> ReadinessProbe::backlog_history() const {
  std::lock_guard lock(mutex_);
  return {backlog_.begin(), backlog_.end()};
}

}  // namespace cjhub::ops

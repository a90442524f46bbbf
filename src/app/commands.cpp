#include "cjhub/app/commands.hpp"

#include "cjhub/app/build_info.hpp"
#include "cjhub/app/reload.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>

#include "cjhub/api/handlers.hpp"
#include "cjhub/api/problem.hpp"
#include "cjhub/audit/audit_log.hpp"
#include "cjhub/common/csv.hpp"
#include "cjhub/common/lifecycle.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/config/agencies.hpp"
#include "cjhub/config/config.hpp"
#include "cjhub/delivery/dispatcher.hpp"
#include "cjhub/identity/directory.hpp"
#include "cjhub/intake/admission.hpp"
#include "cjhub/intake/template.hpp"
#include "cjhub/ingress/server.hpp"
#include "cjhub/ops/health_listener.hpp"
#include "cjhub/ops/metrics.hpp"
#include "cjhub/ops/readiness.hpp"
#include "cjhub/ops/audit_verifier.hpp"
#include "cjhub/ops/retention.hpp"
#include "cjhub/ops/scorecard.hpp"
#include "cjhub/ops/submitter_watch.hpp"
#include "cjhub/ops/service_manager.hpp"
#include "cjhub/outbox/writer.hpp"
#include "cjhub/store/agencies_repo.hpp"
#include "cjhub/store/database.hpp"
#include "cjhub/store/db_workers.hpp"
#include "cjhub/store/deliveries_repo.hpp"
#include "cjhub/store/erasures_repo.hpp"
#include "cjhub/store/migrations.hpp"
#include "cjhub/store/operations_repo.hpp"
#include "cjhub/validation/validator.hpp"

namespace cjhub::app {

namespace fs = std::filesystem;

std::string version_string() { return "cjhub " + build_version() + " (commit " + build_commit() + ")"; }

namespace {

// The handlers' reads, run on the database workers.
class StoreReader final : public api::MessageReader {
 public:
  explicit StoreReader(store::DbWorkers& workers) : workers_(workers) {}
  void find(const Uuid& id, std::function<void(std::optional<api::MessageView>)> done,
            std::function<void(std::exception_ptr)> fail) override {
    workers_.post(
        [id, done](store::Connection& c) {
          auto rec = store::find_message(c, id);
          if (!rec) return done(std::nullopt);
          done(api::MessageView{std::move(*rec), store::deliveries_of(c, id)});
        },
        std::move(fail));
  }

 private:
  store::DbWorkers& workers_;
};

// Admin jobs, run on the database workers.
class StoreRunner final : public api::DbRunner {
 public:
  explicit StoreRunner(store::DbWorkers& workers) : workers_(workers) {}
  void run(std::function<api::Response(store::Connection&)> job, api::Respond respond) override {
    workers_.post([job, respond](store::Connection& c) { respond(job(c)); },
                  [respond](std::exception_ptr e) {
                    try {
                      std::rethrow_exception(e);
                    } catch (const store::DbInvalidValue&) {
                      // A value of the right shape that PostgreSQL still cannot use (2026-13-01).
                      return respond(api::problem(api::Problem::bad_request, "a parameter is out of range"));
                    } catch (const std::exception& ex) {
                      if (store::is_connection_failure(ex)) {
                        return respond(api::problem(api::Problem::database_unavailable, ""));
                      }
                      log::get("api")->error("admin job failed: {}", ex.what());
                    } catch (...) {
                    }
                    respond(api::problem(api::Problem::internal_error, ""));
                  });
  }

 private:
  store::DbWorkers& workers_;
};


store::ConnectionPtr connect_with_wait(const config::Config& c, int wait_seconds) {
  auto lg = log::get("store");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    try {
      return store::connect(c.database.url, c.database.connect_timeout);
    } catch (const store::DbUnavailable& e) {
      if (std::chrono::steady_clock::now() >= until) throw;
      lg->warn("database not reachable yet ({}); retrying", e.what());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

validation::Limits validation_limits(const config::Config& c) {
  validation::Limits l;
  l.max_depth = c.limits.max_element_depth;
  l.max_namespaces = c.limits.max_namespaces;
  l.max_namespace_uri_length = c.limits.max_namespace_uri_length;
  return l;
}

std::vector<std::string> type_names(const config::Config& c) {
  std::vector<std::string> names;
  for (const auto& t : c.message_types) names.push_back(t.spec.name);
  return names;
}

}  // namespace

std::optional<config::Config> load_config(const fs::path& file) {
  try {
    return config::load(file);
  } catch (const config::ConfigError& e) {
    std::cerr << "cjhub: configuration error in " << file.string() << ": " << e.what() << "\n";
    return std::nullopt;
  }
}

// Each sandbox court template, filled in with sample values, must be a document the court may send:
// valid, its keys readable, its origin the court.
static bool check_sandbox_templates(const config::Config& c) {
  if (c.sandbox.templates.empty()) return true;
  validation::SchemaHolder schemas(c.type_specs(), validation_limits(c));
  bool ok = true;
  for (const auto& [type, file] : c.sandbox.templates) {
    identity::Agency court;
    court.ori = c.sandbox.court_ori;
    court.publish = {type};
    court.sandbox = true;
    std::ifstream in(file, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string why;
    try {
      const auto values = intake::sandbox_court_values(court.ori + "-SB-CHECK", "OTN-CHECK-0000001", court.ori,
                                                       "CT0000000", rfc3339(now_utc()));
      auto r = intake::admit(c, schemas, court, intake::fill_template(text, values), "", now_utc());
      if (const auto* refusal = std::get_if<intake::Refusal>(&r)) {
        why = std::string(intake::info(refusal->problem).slug) + ": " + refusal->detail;
      } else if (std::get<store::NewMessage>(r).type != type) {
        why = "it is a " + std::get<store::NewMessage>(r).type + ", not a " + type;
      }
    } catch (const intake::TemplateError& e) {
      why = e.what();
    }
    if (!why.empty()) {
      std::cerr << "cjhub: sandbox.templates." << type << " (" << file.string() << ") does not make a " << type
                << " document the sandbox court may send: " << why << "\n";
      ok = false;
    }
  }
  if (ok) std::cout << "sandbox court " << c.sandbox.court_ori << ": " << c.sandbox.templates.size() << " template(s) OK\n";
  return ok;
}

int check_config(const fs::path& file) {
  auto c = load_config(file);
  if (!c) return 2;
  try {
    validation::XercesRuntime xerces;
    auto schemas = validation::SchemaSet::load(c->type_specs(), validation_limits(*c));
    std::cout << fmt::format("{}: OK ({} message types, {} grammars loaded in {} pool(s))\n", file.string(),
                             c->message_types.size(), schemas->grammar_count(), schemas->pool_count());
    for (const auto& w : schemas->warnings()) std::cout << "warning: " << w << "\n";
    if (!c->tls.crl) std::cout << "warning: tls.crl is not set: no revocation checks\n";
    if (!check_sandbox_templates(*c)) return 2;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: schema error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

int migrate(const fs::path& file) {
  auto c = load_config(file);
  if (!c) return 2;
  log::setup(c->logging);
  try {
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    const auto applied = store::migrate(*conn);
    if (applied.empty()) {
      std::cout << "database schema is up to date\n";
    } else {
      for (const auto& m : applied) std::cout << "applied " << m << "\n";
    }
    for (const auto& t : store::analyze_unanalyzed(*conn)) std::cout << "analyzed " << t << " (no planner statistics yet)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: migrate failed: " << e.what() << "\n";
    return 1;
  }
}

// Who runs a command, as the audit trail names it.
std::string cli_actor() {
  const char* user = std::getenv("SUDO_USER");
  if (user == nullptr || *user == '\0') user = std::getenv("USER");
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string("cli:") + (user != nullptr ? user : "uid" + std::to_string(::getuid())) + "@" + host;
}

namespace {

void audit_cli(store::Connection& conn, std::string action, std::string outcome, std::string object,
               std::string detail) {
  try {
    store::record_audit(conn, {{cli_actor(), "", std::move(action), std::move(outcome), std::move(object), "cli",
                                std::move(detail)}});
  } catch (const std::exception& e) {
    std::cerr << "cjhub: warning: the audit record could not be written: " << e.what() << "\n";
  }
}
}  // namespace

int apply(const fs::path& file, const fs::path& agencies_file, bool dry_run) {
  auto c = load_config(file);
  if (!c) return 2;
  log::setup(c->logging);
  config::AgenciesFile agencies;
  try {
    agencies = config::load_agencies(agencies_file, type_names(*c));
  } catch (const config::ConfigError& e) {
    std::cerr << "cjhub: agencies file error in " << agencies_file.string() << ": " << e.what() << "\n";
    return 2;
  }
  if (dry_run) {
    std::cout << fmt::format("{}: OK ({} agencies)\n", agencies_file.string(), agencies.agencies.size());
    return 0;
  }
  try {
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    store::migrate(*conn);
    const auto r = store::apply_agencies(*conn, agencies);
    for (const auto& o : r.added) std::cout << "+ added    " << o << "\n";
    for (const auto& o : r.changed) std::cout << "~ changed  " << o << "\n";
    for (const auto& o : r.disabled) std::cout << "- disabled " << o << "\n";
    std::cout << fmt::format("{} added, {} changed, {} disabled, {} unchanged\n", r.added.size(),
                             r.changed.size(), r.disabled.size(), r.unchanged.size());
    if (r.any_change()) {
      std::string what;
      for (const auto& o : r.added) what += " +" + o;
      for (const auto& o : r.changed) what += " ~" + o;
      for (const auto& o : r.disabled) what += " -" + o;
      audit_cli(*conn, "admin", "applied", "agencies file " + agencies_file.filename().string(), what.substr(1));
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: apply failed: " << e.what() << "\n";
    return 1;
  }
}

namespace {
store::DeadLetterFilter filter_from(const DeadLetterArgs& a) {
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  return {opt(a.delivery_id), opt(a.agency), opt(a.endpoint), opt(a.since), opt(a.until), a.limit};
}

template <class F>
int with_database(const fs::path& file, F&& fn) {
  auto c = load_config(file);
  if (!c) return 2;
  log::setup(c->logging);
  try {
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    if constexpr (std::is_invocable_v<F, store::Connection&, const config::Config&>) {
      return fn(*conn, *c);
    } else {
      return fn(*conn);
    }
  } catch (const std::exception& e) {
    std::cerr << "cjhub: " << e.what() << "\n";
    return 1;
  }
}
}  // namespace

int dlq_list(const fs::path& file, const DeadLetterArgs& args) {
  return with_database(file, [&](store::Connection& conn) {
    const auto items = store::list_dead(conn, filter_from(args));
    if (args.json) {
      boost::json::array a;
      for (const auto& d : items) {
        a.push_back(boost::json::object{{"delivery_id", d.delivery_id}, {"message_id", d.message_id},
                                        {"message_type", d.message_type}, {"recipient_ori", d.recipient_ori},
                                        {"endpoint", d.endpoint}, {"attempts", d.attempts},
                                        {"last_error", d.last_error}, {"dead_at", d.dead_at}});
      }
      std::cout << boost::json::serialize(a) << "\n";
      return 0;
    }
    std::cout << fmt::format("{:<36}  {:<24}  {:<9}  {:<12}  {:>3}  {:<27}  {}\n", "DELIVERY", "TYPE", "AGENCY",
                             "ENDPOINT", "TRY", "DEAD AT", "LAST ERROR");
    for (const auto& d : items) {
      std::cout << fmt::format("{:<36}  {:<24}  {:<9}  {:<12}  {:>3}  {:<27}  {}\n", d.delivery_id, d.message_type,
                               d.recipient_ori, d.endpoint, d.attempts, d.dead_at, d.last_error.substr(0, 80));
    }
    std::cout << items.size() << " dead letter(s)\n";
    return 0;
  });
}

int dlq_replay(const fs::path& file, const DeadLetterArgs& args) {
  if (!args.all && args.delivery_id.empty() && args.agency.empty() && args.endpoint.empty() &&
      args.since.empty() && args.until.empty()) {
    std::cerr << "cjhub: name what to replay (--delivery, --agency, --endpoint, --since/--until) or --all\n";
    return 2;
  }
  return with_database(file, [&](store::Connection& conn) {
    const auto ids = store::replay_dead(conn, filter_from(args));
    audit_cli(conn, "admin", "replayed", "dead letters: " + std::to_string(ids.size()),
              (args.delivery_id.empty() ? "" : "delivery " + args.delivery_id + " ") +
                  (args.agency.empty() ? "" : "agency " + args.agency + " ") +
                  (args.endpoint.empty() ? "" : "endpoint " + args.endpoint));
    for (const auto& id : ids) std::cout << "replayed " << id << "\n";
    std::cout << ids.size() << " dead letter(s) replayed\n";
    return 0;
  });
}

int scorecard(const fs::path& file, const ScorecardArgs& args) {
  if (!args.month.empty() && !store::month_period(args.month)) {
    std::cerr << "cjhub: --month must be YYYY-MM\n";
    return 2;
  }
  return with_database(file, [&](store::Connection& conn, const config::Config& c) {
    const auto card = ops::read_scorecard(conn, args.month, c.watchers,
                                          args.agency.empty() ? std::nullopt : std::optional(args.agency));
    if (args.format == "json") {
      std::cout << boost::json::serialize(ops::to_json(card)) << "\n";
    } else if (args.format == "csv") {
      std::cout << ops::to_csv(card, args.submitters);
    } else {
      std::cout << ops::to_table(card);
    }
    return 0;
  });
}

int endpoints_list(const fs::path& file) {
  return with_database(file, [&](store::Connection& conn) {
    std::cout << fmt::format("{:<9}  {:<12}  {:<7}  {:>8}  {:>8}  {:>5}  {}\n", "AGENCY", "ENDPOINT", "STATE",
                             "BACKLOG", "DEAD", "FAILS", "URL");
    for (const auto& e : store::endpoint_states(conn)) {
      std::cout << fmt::format("{:<9}  {:<12}  {:<7}  {:>8}  {:>8}  {:>5}  {}{}\n", e.ori, e.name,
                               e.paused ? "paused" : "active", e.backlog, e.dead, e.consecutive_failures, e.url,
                               e.paused ? "  (" + e.paused_reason + ")" : "");
    }
    return 0;
  });
}

int endpoint_pause(const fs::path& file, const std::string& agency, const std::string& endpoint, bool pause,
                   const std::string& reason) {
  return with_database(file, [&](store::Connection& conn) {
    if (!store::set_endpoint_paused(conn, agency, endpoint, pause,
                                    reason.empty() ? "paused by operator" : reason)) {
      std::cerr << "cjhub: no active endpoint " << endpoint << " of agency " << agency << "\n";
      return 1;
    }
    audit_cli(conn, "admin", pause ? "paused" : "resumed", "endpoint " + agency + "/" + endpoint, reason);
    std::cout << (pause ? "paused " : "resumed ") << agency << "/" << endpoint << "\n";
    return 0;
  });
}

int erasures_report(const fs::path& file, const ErasureReportArgs& args) {
  if (args.format != "csv" && args.format != "json") {
    std::cerr << "cjhub: --format must be csv or json\n";
    return 2;
  }
  return with_database(file, [&](store::Connection& conn) {
    auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
    store::ErasureFilter f;
    f.status = opt(args.status);
    f.agency = opt(args.agency);
    f.since = opt(args.since);
    f.until = opt(args.until);
    f.limit = 1000;
    boost::json::array rows;
    if (args.format == "csv") {
      std::cout << "erasure_id,case_key,scope,requested_by,received_at,deadline_at,erasure_status,"
                   "recipient_ori,endpoint,delivery_state,delivered_at,acknowledged_at,ack_status,overdue\n";
    }
    for (;;) {
      const auto page = store::list_erasures(conn, f);
      std::vector<std::string> ids;
      for (const auto& s : page) ids.push_back(s.id);
      const auto recipients = store::erasure_recipients(conn, ids);
      for (const auto& s : page) {
        for (const auto& r : recipients) {
          if (r.erasure_id != s.id) continue;
          const auto state = r.state == "queued" ? std::string("pending") : r.state;
          if (args.format == "csv") {
            std::cout << fmt::format(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", s.id, csv_cell(s.case_key),
                csv_cell(s.scope), csv_cell(s.requested_by), s.received_at, s.deadline_at,
                csv_cell(s.status), csv_cell(r.recipient_ori), csv_cell(r.endpoint),
                csv_cell(state), r.delivered_at, r.acknowledged_at, csv_cell(r.ack_status),
                r.overdue ? "true" : "false");
          } else {
            rows.push_back(boost::json::object{{"erasure_id", s.id},
                                               {"case_key", s.case_key},
                                               {"scope", s.scope},
                                               {"requested_by", s.requested_by},
                                               {"received_at", s.received_at},
                                               {"deadline_at", s.deadline_at},
                                               {"erasure_status", s.status},
                                               {"recipient_ori", r.recipient_ori},
                                               {"endpoint", r.endpoint},
                                               {"delivery_state", state},
                                               {"delivered_at", r.delivered_at},
                                               {"acknowledged_at", r.acknowledged_at},
                                               {"ack_status", r.ack_status},
                                               {"overdue", r.overdue}});
          }
        }
      }
      if (static_cast<long long>(page.size()) < f.limit) break;
      f.after_at = page.back().received_at;
      f.after_id = page.back().id;
    }
    if (args.format == "json") std::cout << boost::json::serialize(rows) << "\n";
    return 0;
  });
}

int serve(const ServeOptions& opts) {
  auto c = load_config(opts.config);
  if (!c) return 2;
  log::setup(c->logging);
  auto lg = log::get("app");
  lg->info("{} starting (config {})", version_string(), c->source.string());

  // Broken pipes are answered as errors on the socket, never by dying.
  ::signal(SIGPIPE, SIG_IGN);

  validation::XercesRuntime xerces;
  std::unique_ptr<validation::SchemaHolder> schemas;
  try {
    schemas = std::make_unique<validation::SchemaHolder>(c->type_specs(), validation_limits(*c), 10000,
                                                         c->limits.namespace_renewal_bytes);
  } catch (const std::exception& e) {
    lg->critical("cannot load schemas: {}", e.what());
    return 2;
  }
  lg->info("schemas loaded: {} message types, {} grammars in {} pool(s)", c->message_types.size(),
           schemas->current()->grammar_count(), schemas->current()->pool_count());
  if (!c->tls.crl) lg->warn("tls.crl is not set: client certificates are not checked for revocation");

  try {
    auto conn = connect_with_wait(*c, opts.wait_for_db_seconds);
    for (const auto& m : store::migrate(*conn)) lg->info("applied migration {}", m);
    store::analyze_unanalyzed(*conn);
  } catch (const std::exception& e) {
    lg->critical("cannot prepare the database: {}", e.what());
    return 1;
  }

  identity::Directory directory;
  identity::DirectoryRefresher refresher(directory, c->database.url, c->database.connect_timeout,
                                         c->identity.refresh_interval);
  store::DbWorkers db_workers(c->database.url, c->database.pool_size, c->database.connect_timeout,
                              c->database.statement_timeout);
  outbox::GroupCommitWriter writer({c->database.url, c->database.connect_timeout,
                                    c->ingest.group_max_messages, c->ingest.queue_capacity,
                                    c->ingest.writers, c->ingest.queue_max_bytes,
                                    c->database.statement_timeout,
                                    {c->erasure.ack_deadline.count(), c->erasure.follow_up.count(),
                                     c->erasure.later_messages == "reject"},
                                    c->ingest.agency_queue_share_percent, c->ingest.answer_within});
  audit::AuditLog audit_log({c->database.url, c->database.connect_timeout, std::chrono::milliseconds(200),
                             c->audit.seal_interval, c->audit.retention});
  ops::RetentionJob retention({c->database.url, c->database.connect_timeout, c->retention.payload_after,
                              c->retention.deliveries_after, c->retention.interval, 1000, c->watchers});
  ops::AuditVerifier audit_verifier({c->database.url, c->database.connect_timeout, c->audit.verify_interval,
                                     c->audit.verify_records});
  ops::ReadinessSettings rs;
  rs.db_url = c->database.url;
  rs.connect_timeout = c->database.connect_timeout;
  rs.history_flush = c->watchers.flush_interval;
  rs.schemas = schemas.get();
  rs.directory_age = [&directory] { return directory.age(); };
  rs.directory_refresh = c->identity.refresh_interval;
  rs.directory_max_age = c->identity.max_age;
  rs.certificates.emplace_back("server", c->tls.server_cert);
  if (c->delivery.enabled) rs.certificates.emplace_back("delivery client", c->delivery.client_cert);
  rs.crl = c->tls.crl;
  rs.expiry_metrics.emplace_back("server", c->tls.server_cert);
  rs.expiry_metrics.emplace_back("ca", c->tls.client_ca);
  if (c->delivery.enabled) {
    rs.expiry_metrics.emplace_back("client", c->delivery.client_cert);
    if (!c->delivery.ca_bundle.empty()) rs.expiry_metrics.emplace_back("endpoint_ca", c->delivery.ca_bundle);
  }
  rs.expiry_warning_days = c->tls.expiry_warning_days;
  rs.dispatcher_stale_after = std::max(std::chrono::milliseconds(10000), 5 * c->delivery.poll_interval);
  StoreReader reader(db_workers);
  StoreRunner runner(db_workers);
  std::vector<std::unique_ptr<delivery::Dispatcher>> dispatchers;
  if (c->delivery.enabled) {
    for (std::size_t i = 0; i < c->delivery.dispatchers; ++i) {
      dispatchers.push_back(std::make_unique<delivery::Dispatcher>(*c, *schemas, directory));
    }
  } else {
    lg->warn("delivery is not configured: messages are stored but not delivered");
  }
  if (!dispatchers.empty()) {
    rs.dispatcher_last_round_ms = [&dispatchers] {
      std::int64_t last = 0;
      for (const auto& d : dispatchers) last = std::max(last, d->stats().last_round_unix_ms.load());
      return last;
    };
  }
  ops::ReadinessProbe readiness(std::move(rs));
  ops::SubmitterWatch submitters(c->database.url, c->database.connect_timeout, c->watchers.flush_interval);
  api::HandlerDeps deps;
  deps.config = &*c;
  deps.directory = &directory;
  deps.schemas = schemas.get();
  deps.ingest = &writer;
  deps.reader = &reader;
  deps.db = &runner;
  deps.readiness = &readiness;
  deps.audit = &audit_log;
  deps.directory_max_age = c->identity.max_age;
  api::RateLimiter rate_limiter(c->ingest.agency_rate_per_s, static_cast<double>(c->ingest.agency_burst));
  deps.rate_limiter = &rate_limiter;
  deps.submitters = &submitters;
  const console::Sessions console_sessions(c->console.idle_timeout);
  deps.sessions = &console_sessions;
  api::Handlers handlers(std::move(deps));
  ingress::HttpsServer server(ingress::ServerSettings::from(*c), handlers);

  metrics::registry().set_build(build_version(), build_commit());
  // For orchestrators without a client certificate; started first, so it stops last and answers
  // 503 through the whole drain.
  ops::HealthListener health(c->health_listener, [&readiness] { return readiness.ready(); });
  // systemd: READY=1 once serving; the watchdog is pinged while the listener's I/O threads and each
  // dispatcher's database thread go round (a database outage stops neither).
  std::vector<ops::ServiceManager::Check> liveness;
  liveness.push_back([&server]() -> std::optional<std::string> {
    if (server.responsive(std::chrono::seconds(5))) return std::nullopt;
    return std::string("the HTTPS listener's I/O threads");
  });
  const auto dispatcher_patience =
      c->delivery.poll_interval + 2 * c->database.statement_timeout + std::chrono::milliseconds(30000);
  for (auto& d : dispatchers) {
    liveness.push_back([&d, dispatcher_patience]() -> std::optional<std::string> {
      const auto last = d->stats().last_loop_unix_ms.load();
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      if (last == 0 || now - last <= dispatcher_patience.count()) return std::nullopt;
      return fmt::format("the dispatcher's database thread (last round {} s ago)", (now - last) / 1000);
    });
  }
  ops::ServiceManager service(std::move(liveness));

  // Start in dependency order; stop_all() stops in reverse: the listener first, the store last.
  Lifecycle lifecycle;
  try {
    lifecycle.start(health);
    lifecycle.start(refresher);
    lifecycle.start(db_workers);
    lifecycle.start(audit_log);
    lifecycle.start(writer);
    lifecycle.start(retention);
    lifecycle.start(submitters);
    lifecycle.start(audit_verifier);
    for (auto& d : dispatchers) lifecycle.start(*d);
    lifecycle.start(readiness);
    lifecycle.start(server);
    lifecycle.start(service);
  } catch (const std::exception& e) {
    lg->critical("start-up failed: {}", e.what());
    lifecycle.stop_all(std::chrono::seconds(5));
    return 1;
  }

  if (!opts.ready_file.empty()) {
    const auto tmp = opts.ready_file.string() + ".tmp";
    std::ofstream(tmp) << fmt::format("{{\"port\":{},\"health_port\":{},\"pid\":{}}}\n", server.port(),
                                      health.port(), ::getpid());
    fs::rename(tmp, opts.ready_file);
  }
  lg->info("cjhub ready on port {}", server.port());

  // SIGHUP: read the TLS files (server, CA bundle, CRL, delivery client), the agencies and the
  // message types again; established connections whose client certificate no longer verifies are
  // closed, the others are kept.
  // SIGTERM, SIGINT: drain and stop.
  boost::asio::io_context signals_ioc;
  boost::asio::signal_set signals(signals_ioc, SIGINT, SIGTERM, SIGHUP);
  int received = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig != SIGHUP) {
          received = sig;
          return;
        }
        std::string outcome = "reloaded";
        std::string detail;
        try {
          const auto ended = server.reload_tls();
          detail = "server TLS material reloaded; " + std::to_string(ended) +
                   " open connection(s) closed whose certificate no longer verifies";
          lg->info("SIGHUP: server certificate, key, CA bundle and CRL reloaded; {} open connection(s) closed whose "
                   "client certificate no longer verifies",
                   ended);
        } catch (const std::exception& e) {
          outcome = "failed";
          detail = std::string("server TLS material kept: ") + e.what();
          lg->error("SIGHUP: reloading the server TLS material failed, keeping the current one: {}", e.what());
        }
        for (auto& d : dispatchers) {
          try {
            d->reload_tls();
          } catch (const std::exception& e) {
            outcome = "failed";
            detail += std::string("; delivery client TLS material kept: ") + e.what();
            lg->error("SIGHUP: reloading the delivery client TLS material failed, keeping the current one: {}",
                      e.what());
          }
        }
        try {
          const auto what = reload_message_types(opts.config, *c, *schemas);
          detail += "; " + what;
          lg->info("SIGHUP: {}", what);
        } catch (const std::exception& e) {
          outcome = "failed";
          detail += std::string("; message types kept: ") + e.what();
          lg->error("SIGHUP: reloading the message types failed, keeping the current ones: {}", e.what());
        }
        refresher.refresh_now();
        audit_log.record(
            {"signal:SIGHUP", "", "admin", outcome, "tls, crl, agencies, message types", "local", detail});
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  signals_ioc.run();
  lg->info("signal {} received: draining", received);
  readiness.begin_drain();  // /readyz answers 503 from now on, on both listeners
  service.stopping();
  lifecycle.stop_all(std::chrono::seconds(20));
  lg->info("cjhub stopped");
  return 0;
}

int audit_verify(const fs::path& file, int grace_seconds) {
  return with_database(file, [&](store::Connection& conn) {
    const auto v = store::verify_audit(conn, std::chrono::seconds(grace_seconds));
    for (const auto& p : v.problems) std::cout << "FAIL " << p << "\n";
    if (v.unsealed_stale > 0) {
      std::cout << "WARN " << v.unsealed_stale << " record(s) older than " << grace_seconds
                << " s are not sealed yet (is a hub running?)\n";
    }
    if (!v.ok()) {
      std::cout << "audit trail NOT intact: " << v.problems.size() << " problem(s) in " << v.records << " record(s)\n";
      return 1;
    }
    std::cout << "audit trail intact: " << v.records << " record(s), chain positions " << v.first_seq << " to "
              << v.last_seq << "; head hash " << v.head_hash << "\n";
    return 0;
  });
}

int audit_export(const fs::path& file, const AuditExportArgs& args) {
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  return with_database(file, [&](store::Connection& conn) {
    std::size_t n = 0;
    if (args.format == "csv") std::cout << "id,at,actor,ori,action,outcome,object,source,detail,chain_seq,hash\n";
    store::export_audit(conn, opt(args.since), opt(args.until), [&](const store::AuditRow& r) {
      ++n;
      if (args.format == "csv") {
        std::cout << r.id << ',' << r.at << ',' << csv_cell(r.actor) << ',' << csv_cell(r.ori)
                  << ',' << csv_cell(r.action) << ',' << csv_cell(r.outcome) << ','
                  << csv_cell(r.object) << ',' << csv_cell(r.source) << ',' << csv_cell(r.detail)
                  << ',' << (r.chain_seq ? std::to_string(*r.chain_seq) : "") << ',' << r.hash
                  << "\n";
      } else {
        boost::json::object o{{"id", r.id},         {"at", r.at},         {"actor", r.actor},
                              {"ori", r.ori},       {"action", r.action}, {"outcome", r.outcome},
                              {"object", r.object}, {"source", r.source}, {"detail", r.detail},
                              {"hash", r.hash}};
        if (r.chain_seq) o["chain_seq"] = *r.chain_seq;
        std::cout << boost::json::serialize(o) << "\n";
      }
    });
    std::cerr << n << " audit record(s)\n";
    return 0;
  });
}

}  // namespace cjhub::app

#include "cjhub/app/commands.hpp"

#include "cjhub/app/build_info.hpp"
#include "cjhub/app/reload.hpp"
#include "cjhub/app/progress.hpp"

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

}  // namespace

std::optional<fs::path> resolve_config(const fs::path& given) {
  fs::path path = given;
  std::string origin = "-c";
  if (path.empty()) {
    const char* env = std::getenv(kConfigEnv);
    if (env != nullptr && *env != '\0') {
      path = env;
      origin = std::string("$") + kConfigEnv;
    } else {
      path = kDefaultConfig;
      origin = std::string("the default; neither -c nor $") + kConfigEnv + " was given";
    }
  }
  std::error_code ec;
  const auto status = fs::status(path, ec);
  std::string why;
  if (!fs::exists(status)) {
    why = "does not exist";
  } else if (fs::is_directory(status)) {
    why = "is a directory";
  } else if (::access(path.c_str(), R_OK) != 0) {
    why = "cannot be read";
  }
  if (!why.empty()) {
    std::cerr << "cjhub: configuration file " << path.string() << " (" << origin << ") " << why << "\n";
    return std::nullopt;
  }
  return path;
}

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

// Exit 1 when the configuration is found invalid: that is the answer of the check.
int check_config(const fs::path& file) {
  auto c = load_config(file);
  if (!c) return kExitCheckFailed;
  try {
    validation::XercesRuntime xerces;
    auto schemas = validation::SchemaSet::load(c->type_specs(), validation_limits(*c));
    std::cout << fmt::format("{}: OK ({} message types, {} grammars loaded in {} pool(s))\n", file.string(),
                             c->message_types.size(), schemas->grammar_count(), schemas->pool_count());
    for (const auto& w : schemas->warnings()) std::cout << "warning: " << w << "\n";
    if (!c->tls.crl) std::cout << "warning: tls.crl is not set: no revocation checks\n";
    if (!check_sandbox_templates(*c)) return kExitCheckFailed;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: schema error: " << e.what() << "\n";
    return kExitCheckFailed;
  }
  return kExitOk;
}

int migrate(const fs::path& file) {
  auto c = load_config(file);
  if (!c) return kExitUsage;
  log::setup(c->logging);
  try {
    auto conn = store::connect(c->database.url, c->database.connect_timeout);
    Progress progress("migrate", "applying pending migrations");
    progress.tick_while_running();
    // On a terminal the progress line names each migration (a log line would break it); elsewhere
    // the store logs each one itself.
    store::MigrationProgress announce;
    if (progress.enabled()) {
      announce = [&progress](const std::string& name, std::size_t n, std::size_t of) {
        progress.say("applying " + name + " (" + std::to_string(n) + " of " + std::to_string(of) + ")");
      };
    }
    const auto applied = store::migrate(*conn, announce);
    progress.finish();
    if (applied.empty()) {
      std::cout << "database schema is up to date\n";
    } else {
      for (const auto& m : applied) std::cout << "applied " << m << "\n";
    }
    for (const auto& t : store::analyze_unanalyzed(*conn)) std::cout << "analyzed " << t << " (no planner statistics yet)\n";
    return 0;
  } catch (const store::SchemaTooNew& e) {
    std::cerr << "cjhub: " << version_string() << " will not migrate this database: " << e.what() << "\n";
    return kExitUsage;  // the database and the binary do not belong together: running again does not help
  } catch (const store::SchemaMismatch& e) {
    std::cerr << "cjhub: " << version_string() << " will not migrate this database: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "cjhub: migrate failed: " << e.what() << "\n";
    return kExitCannotRun;
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

void audit_cli(store::Connection& conn, std::string action, std::string outcome, std::string object,
               std::string detail) {
  try {
    store::record_audit(conn, {{cli_actor(), "", std::move(action), std::move(outcome), std::move(object), "cli",
                                std::move(detail)}});
  } catch (const std::exception& e) {
    std::cerr << "cjhub: warning: the audit record could not be written: " << e.what() << "\n";
  }
}

int serve(const ServeOptions& opts) {
  auto c = load_config(opts.config);
  if (!c) return kExitUsage;
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
    return kExitUsage;
  }
  lg->info("schemas loaded: {} message types, {} grammars in {} pool(s)", c->message_types.size(),
           schemas->current()->grammar_count(), schemas->current()->pool_count());
  if (!c->tls.crl) lg->warn("tls.crl is not set: client certificates are not checked for revocation");

  try {
    auto conn = connect_with_wait(*c, opts.wait_for_db_seconds);
    for (const auto& m : store::migrate(*conn)) lg->info("applied migration {}", m);
    store::analyze_unanalyzed(*conn);
  } catch (const store::SchemaTooNew& e) {
    lg->critical("{} will not start on this database: {}", version_string(), e.what());
    return kExitUsage;  // a restart would not help: RestartPreventExitStatus=2
  } catch (const store::SchemaMismatch& e) {
    lg->critical("{} will not start on this database: {}", version_string(), e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    lg->critical("cannot prepare the database: {}", e.what());
    return kExitCannotRun;  // systemd restarts it (RestartPreventExitStatus=2 only)
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
    return kExitCannotRun;
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

}  // namespace cjhub::app

// End to end, the command line's grammar with the real binary and database: where the
// configuration file comes from (-c, CJHUB_CONFIG, /etc/cjhub/cjhub.yaml), --format json with the
// admin API's field names and RFC 4180 CSV, the exit statuses (1 a check failed, 2 usage, 3 could
// not run), `apply --dry-run`'s diff with the dead letters it predicts (and nothing changed), and
// the progress line, which shows on a terminal only.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "cjhub/store/migrations.hpp"
#include "e2e/hub_fixture.hpp"

namespace cjhub::test {
namespace {

namespace fs = std::filesystem;

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

using Env = std::map<std::string, std::optional<std::string>>;  // nullopt: unset in the child

struct CliRun {
  int rc = -1;
  std::string out, err;
};

std::string config_file() { return (source_dir() / "config" / "cjhub.example.yaml").string(); }

std::set<std::string> keys_of(const boost::json::object& o) {
  std::set<std::string> k;
  for (const auto& kv : o) k.insert(std::string(kv.key()));
  return k;
}

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

// JSON Lines: every line of `text` is one object.
std::vector<boost::json::object> json_lines(const std::string& text) {
  std::vector<boost::json::object> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(boost::json::parse(line).as_object());  // throws (fails the test) on anything else
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// A TCP port on 127.0.0.1 that nothing listens on.
unsigned short closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class Cli : public HubSuite {
 protected:
  static void SetUpTestSuite() { start_hub(); }

  // The environment the suite's hub runs with (HubProcess's), CJHUB_CONFIG unset, plus `extra`.
  static Env base_env(const Env& extra = {}) {
    Env e{{"CJHUB_TLS_DIR", pki_dir().string()},
          {"CJHUB_DATABASE_URL", db_->url()},
          {"CJHUB_PORT", "0"},
          {"CJHUB_LISTEN_ADDRESS", "127.0.0.1"},
          {"CJHUB_LOG_LEVEL", "warn"},
          {"CJHUB_DELIVERY_ENABLED", "false"},
          {"CJHUB_CONFIG", std::nullopt}};
    if (auto c = corpus_dir(); !c.empty()) e["CJHUB_CORPUS_DIR"] = c.string();
    for (const auto& [k, v] : extra) e[k] = v;
    return e;
  }

  // Runs argv with stdout and stderr apart (neither a terminal).
  static CliRun run_argv(const std::vector<std::string>& argv, const Env& extra = {}) {
    const auto dir = hub_->workdir();
    const auto out_file = dir / "cli.out", err_file = dir / "cli.err";
    fs::remove(out_file);
    fs::remove(err_file);
    const auto env = base_env(extra);
    const pid_t pid = fork();
    if (pid == 0) {
      for (const auto& [k, v] : env) {
        if (v) {
          setenv(k.c_str(), v->c_str(), 1);
        } else {
          unsetenv(k.c_str());
        }
      }
      const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(out_file), read_file(err_file)};
  }
  static CliRun cjhub(std::vector<std::string> args, const Env& extra = {}) {
    args.insert(args.begin(), binary().string());
    return run_argv(args, extra);
  }
  // Runs cjhub under a pseudo-terminal (util-linux script(1)): what a person at a terminal sees,
  // stdout and stderr together.
  static CliRun on_terminal(const std::vector<std::string>& args, const Env& extra = {}) {
    std::string cmd = "'" + binary().string() + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    return run_argv({"/usr/bin/script", "-qec", cmd, "/dev/null"}, extra);
  }

  static std::string dead_letter_mark() { return "HTTP 400: refused, \"unknown charge\""; }
};

TEST_F(Cli, TheConfigurationFileComesFromDashCThenCjhubConfigThenTheDefault) {
  const auto cfg = config_file();
  // $CJHUB_CONFIG without -c.
  auto r = cjhub({"endpoints", "list"}, {{"CJHUB_CONFIG", cfg}});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("CTDCJ0000"), std::string::npos) << r.out;
  // -c wins over $CJHUB_CONFIG, both ways round.
  r = cjhub({"endpoints", "list", "-c", cfg}, {{"CJHUB_CONFIG", "/nonexistent/from-env.yaml"}});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  r = cjhub({"endpoints", "list", "--config", "/nonexistent/from-flag.yaml"}, {{"CJHUB_CONFIG", cfg}});
  EXPECT_EQ(r.rc, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("configuration file /nonexistent/from-flag.yaml (-c) does not exist"), std::string::npos)
      << r.err;
  r = cjhub({"dlq", "list"}, {{"CJHUB_CONFIG", "/nonexistent/from-env.yaml"}});
  EXPECT_EQ(r.rc, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("/nonexistent/from-env.yaml ($CJHUB_CONFIG) does not exist"), std::string::npos) << r.err;
  // Neither: the default path.
  r = cjhub({"audit", "verify"});
  if (!fs::exists("/etc/cjhub/cjhub.yaml")) {
    EXPECT_EQ(r.rc, 2) << r.out << r.err;
    EXPECT_NE(r.err.find("configuration file /etc/cjhub/cjhub.yaml (the default"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(r.err.find("(the default"), std::string::npos) << "the default file exists and was read: " << r.err;
  }
  // check-config: the positional file (as before), -c, or the variable.
  EXPECT_EQ(cjhub({"check-config", cfg}, {{"CJHUB_CONFIG", "/nonexistent/x.yaml"}}).rc, 0);
  EXPECT_EQ(cjhub({"check-config", "-c", cfg}).rc, 0);
  r = cjhub({"check-config"}, {{"CJHUB_CONFIG", cfg}});
  EXPECT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(cfg + ": OK"), std::string::npos) << r.out;
  // Every --help says how the file is found, gives an example and the exit statuses.
  for (const auto& cmd : std::vector<std::vector<std::string>>{
           {"--help"}, {"dlq", "list", "--help"}, {"apply", "--help"}, {"audit", "verify", "--help"}}) {
    r = cjhub(cmd);
    EXPECT_EQ(r.rc, 0) << cmd[0];
    EXPECT_NE(r.out.find("CJHUB_CONFIG"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/etc/cjhub/cjhub.yaml"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Example"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Exit status:\n  0  "), std::string::npos) << r.out;
  }
}

TEST_F(Cli, ExitStatusesTellAFailedCheckFromUsageFromCouldNotRun) {
  const auto cfg = config_file();
  // 2: usage.
  EXPECT_EQ(cjhub({"dlq", "list", "-c", cfg, "--format", "xml"}).rc, 2);
  EXPECT_EQ(cjhub({"dlq", "lst", "-c", cfg}).rc, 2);
  EXPECT_EQ(cjhub({"endpoints", "list", "-c", cfg, "--no-such-option"}).rc, 2);
  EXPECT_EQ(cjhub({"dlq", "replay", "-c", cfg}).rc, 2) << "nothing named to replay";
  auto r = cjhub({"dlq", "list", "-c", cfg, "--since", "2026-13-01"});
  EXPECT_EQ(r.rc, 2) << "a timestamp PostgreSQL refuses is the caller's: " << r.out << r.err;
  // 1 from check-config, 2 from a command that needs the file: an invalid configuration.
  const auto bad = hub_->workdir() / "invalid.yaml";
  std::ofstream(bad) << "listener:\n  port: not-a-port\nno_such_section: {}\n";
  r = cjhub({"check-config", bad.string()});
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("configuration error"), std::string::npos) << r.err;
  EXPECT_EQ(cjhub({"dlq", "list", "-c", bad.string()}).rc, 2);
  // 3: the database unreachable (a closed port).
  const Env away{{"CJHUB_DATABASE_URL", "postgresql://cjhub@127.0.0.1:" + std::to_string(closed_port()) +
                                            "/cjhub?connect_timeout=2"}};
  for (const auto& cmd : std::vector<std::vector<std::string>>{{"dlq", "list", "-c", cfg},
                                                               {"endpoints", "list", "-c", cfg, "--format", "json"},
                                                               {"erasures", "report", "-c", cfg},
                                                               {"audit", "verify", "-c", cfg},
                                                               {"migrate", "-c", cfg},
                                                               {"apply", "-c", cfg, "--dry-run", "-f",
                                                                (source_dir() / "config/agencies.example.yaml").string()}}) {
    r = cjhub(cmd, away);
    EXPECT_EQ(r.rc, 3) << cmd[0] << " " << cmd[1] << ": " << r.out << r.err;
    EXPECT_TRUE(r.out.empty() || cmd[0] == "dlq" || cmd[0] == "erasures") << r.out;
  }
}

TEST_F(Cli, JsonListingsCarryTheAdminApisFieldNamesAndCsvIsRfc4180) {
  const auto cfg = config_file();
  auto hpd = client("hartford-pd");
  auto jud = client("judicial");
  auto ops = client("operator");
  ASSERT_EQ(hpd.request("POST", "/v1/messages", sample("valid/arrest-packet-1.xml"), {{"Idempotency-Key", "cli-1"}})
                .status,
            202u);
  const auto erasure = jud.request("POST", "/v1/messages", sample("valid/erasure-notice-1.xml"),
                                   {{"Idempotency-Key", "cli-erasure-1"}});
  ASSERT_EQ(erasure.status, 202u) << erasure.body;
  const std::string erasure_id(json(erasure).at("message_id").as_string());
  // One of the erasure's deliveries made a dead letter, with an error a CSV cell must quote.
  const auto dead_id = db_->scalar("SELECT id::text FROM deliveries WHERE erasure_id = '" + erasure_id +
                                   "' ORDER BY recipient_ori LIMIT 1");
  ASSERT_FALSE(dead_id.empty());
  ASSERT_EQ(db_->count("WITH u AS (UPDATE deliveries SET state = 'dead', dead_at = now(), last_status = 400, "
                       "attempts = 1, last_error = '" + dead_letter_mark() + "' WHERE id = '" + dead_id +
                       "' RETURNING 1) SELECT count(*) FROM u"),
            1);

  // Dead letters: the CLI's object has the API's keys.
  auto r = cjhub({"dlq", "list", "-c", cfg, "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::optional<boost::json::object> cli_dead;
  for (const auto& o : json_lines(r.out)) {
    if (o.at("delivery_id").as_string() == dead_id) cli_dead = o;
  }
  ASSERT_TRUE(cli_dead) << r.out;
  const auto api = ops.request("GET", "/v1/admin/dead-letters");
  ASSERT_EQ(api.status, 200u) << api.body;
  std::optional<boost::json::object> api_dead;
  const auto api_body = json(api);
  for (const auto& v : api_body.at("dead_letters").as_array()) {
    if (v.as_object().at("delivery_id").as_string() == dead_id) api_dead = v.as_object();
  }
  ASSERT_TRUE(api_dead) << api.body;
  EXPECT_EQ(joined(keys_of(*cli_dead)), joined(keys_of(*api_dead)));
  EXPECT_EQ(cli_dead->at("last_error"), api_dead->at("last_error"));
  EXPECT_EQ(cli_dead->at("last_status").as_int64(), 400);
  // The old flag still works.
  r = cjhub({"dlq", "list", "-c", cfg, "--json"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_FALSE(json_lines(r.out).empty()) << r.out;

  // Endpoints.
  r = cjhub({"endpoints", "list", "-c", cfg, "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto cli_endpoints = json_lines(r.out);
  const auto api_endpoints = ops.request("GET", "/v1/admin/endpoints");
  ASSERT_EQ(api_endpoints.status, 200u);
  const auto api_endpoints_body = json(api_endpoints);
  const auto& api_list = api_endpoints_body.at("endpoints").as_array();
  ASSERT_EQ(cli_endpoints.size(), api_list.size()) << r.out;
  ASSERT_FALSE(cli_endpoints.empty());
  for (std::size_t i = 0; i < api_list.size(); ++i) {
    EXPECT_EQ(joined(keys_of(cli_endpoints[i])), joined(keys_of(api_list[i].as_object())));
    EXPECT_EQ(cli_endpoints[i].at("agency"), api_list[i].as_object().at("agency"));
    EXPECT_EQ(cli_endpoints[i].at("backlog"), api_list[i].as_object().at("backlog"));
  }

  // Erasures: the erasure and each of its recipient_states.
  r = cjhub({"erasures", "report", "-c", cfg, "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  std::optional<boost::json::object> cli_erasure;
  for (const auto& o : json_lines(r.out)) {
    if (o.at("erasure_id").as_string() == erasure_id) cli_erasure = o;
  }
  ASSERT_TRUE(cli_erasure) << r.out;
  const auto api_erasures = ops.request("GET", "/v1/erasures");
  ASSERT_EQ(api_erasures.status, 200u);
  std::optional<boost::json::object> api_erasure;
  const auto api_erasures_body = json(api_erasures);
  for (const auto& v : api_erasures_body.at("erasures").as_array()) {
    if (v.as_object().at("erasure_id").as_string() == erasure_id) api_erasure = v.as_object();
  }
  ASSERT_TRUE(api_erasure);
  EXPECT_EQ(joined(keys_of(*cli_erasure)), joined(keys_of(*api_erasure)));
  const auto& cli_rs = cli_erasure->at("recipient_states").as_array();
  const auto& api_rs = api_erasure->at("recipient_states").as_array();
  ASSERT_EQ(cli_rs.size(), api_rs.size());
  ASSERT_FALSE(cli_rs.empty());
  for (std::size_t i = 0; i < api_rs.size(); ++i) {
    EXPECT_EQ(cli_rs[i].as_object().at("delivery_id"), api_rs[i].as_object().at("delivery_id"));
    EXPECT_EQ(joined(keys_of(cli_rs[i].as_object())), joined(keys_of(api_rs[i].as_object())));
  }

  // CSV: a header of the API's names, and a cell with a comma and quotes quoted with quotes doubled.
  const std::string reason = "maintenance, \"planned\"";
  ASSERT_EQ(cjhub({"endpoints", "pause", "-c", cfg, "--agency", "CTDESPP00", "--endpoint", "main", "--reason", reason})
                .rc,
            0);
  r = cjhub({"endpoints", "list", "-c", cfg, "--format", "csv"});
  EXPECT_EQ(cjhub({"endpoints", "resume", "-c", cfg, "--agency", "CTDESPP00", "--endpoint", "main"}).rc, 0);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), cli_endpoints.size() + 1) << r.out;
  EXPECT_EQ(lines[0],
            "agency,endpoint,url,paused,paused_reason,consecutive_failures,backlog,dead_letters,last_success_at,"
            "last_failure_at");
  EXPECT_NE(r.out.find("CTDESPP00,main,https://localhost:9441/cjhub/inbox,true,\"maintenance, \"\"planned\"\"\","),
            std::string::npos)
      << r.out;
  r = cjhub({"dlq", "list", "-c", cfg, "--format", "csv", "--delivery", dead_id});
  ASSERT_EQ(r.rc, 0) << r.err;
  lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0],
            "delivery_id,message_id,message_type,recipient_ori,endpoint,attempts,last_status,last_error,dead_at,"
            "case_key");
  EXPECT_EQ(lines[1].rfind(dead_id + ",", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(",1,400,\"HTTP 400: refused, \"\"unknown charge\"\"\","), std::string::npos) << lines[1];
  // The table is for people: a header and the count.
  r = cjhub({"dlq", "list", "-c", cfg});
  EXPECT_EQ(r.out.rfind("DELIVERY", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("dead letter(s)\n"), std::string::npos) << r.out;
}

TEST_F(Cli, ProgressShowsOnATerminalOnly) {
  const auto cfg = config_file();
  // Wait for records sealed into the chain (apply and the commands above wrote some; the hub
  // seals every 200 ms), so that verify has something to count.
  CliRun r;
  for (int i = 0; i < 50; ++i) {
    r = cjhub({"audit", "verify", "-c", cfg});
    if (r.rc == 0 && r.out.find("intact: 0 record") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("audit verify:"), std::string::npos) << "no progress into a pipe: " << r.err;
  EXPECT_EQ(r.out.find("audit verify:"), std::string::npos) << r.out;

  r = on_terminal({"audit", "verify", "-c", cfg});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("\r\033[Kaudit verify: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\r\033[K"), std::string::npos) << "the line is cleared at the end: " << r.out;
  EXPECT_NE(r.out.find("audit trail intact"), std::string::npos) << r.out;

  r = on_terminal({"migrate", "-c", cfg});
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("\r\033[Kmigrate: applying pending migrations"), std::string::npos) << r.out;
  r = cjhub({"migrate", "-c", cfg});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.err.find("migrate:"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("\r"), std::string::npos) << r.out;
  {  // An empty database: the line names each migration as it is applied, numbered.
    TestDatabase empty;
    const auto all = store::pending_migrations(*empty.connect());  // every one, in order
    ASSERT_FALSE(all.empty());
    const auto n = std::to_string(all.size());
    r = on_terminal({"migrate", "-c", cfg}, {{"CJHUB_DATABASE_URL", empty.url()}});
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("\r\033[Kmigrate: applying " + all.front() + " (1 of " + n + ")"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("\r\033[Kmigrate: applying " + all.back() + " (" + n + " of " + n + ")"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("applied " + all.back()), std::string::npos) << r.out;
  }
  {  // Off a terminal the log names each migration, once.
    TestDatabase empty;
    const auto all = store::pending_migrations(*empty.connect());
    ASSERT_FALSE(all.empty());
    r = cjhub({"migrate", "-c", cfg}, {{"CJHUB_DATABASE_URL", empty.url()}, {"CJHUB_LOG_LEVEL", "info"}});
    EXPECT_EQ(r.rc, 0) << r.err;
    const auto both = r.out + r.err;
    for (const auto& name : {all.front(), all.back()}) {
      const auto line = "applying migration " + name;
      const auto first = both.find(line);
      EXPECT_NE(first, std::string::npos) << name << ": " << both;
      if (first != std::string::npos) {
        EXPECT_EQ(both.find(line, first + 1), std::string::npos) << "logged twice: " << both;
      }
    }
    EXPECT_EQ(both.find("\r"), std::string::npos) << both;
  }

  r = on_terminal({"erasures", "report", "-c", cfg, "--format", "table"});
  EXPECT_EQ(r.rc, 0) << r.out;
  r = cjhub({"erasures", "report", "-c", cfg, "--format", "table"});
  EXPECT_EQ(r.err.find("erasures report:"), std::string::npos) << r.err;

  {  // dlq replay, one statement, names how many dead letters it takes on before it runs.
    auto jud = client("judicial");
    const auto erasure = jud.request("POST", "/v1/messages", sample("valid/erasure-notice-1.xml"),
                                     {{"Idempotency-Key", "cli-progress-erasure"}});
    ASSERT_EQ(erasure.status, 202u) << erasure.body;
    const std::string erasure_id(json(erasure).at("message_id").as_string());
    ASSERT_EQ(db_->count("WITH u AS (UPDATE deliveries SET state = 'dead', dead_at = now(), last_status = 400, "
                         "attempts = 1, last_error = 'refused' WHERE erasure_id = '" + erasure_id +
                         "' RETURNING 1) SELECT count(*) FROM u"),
              db_->count("SELECT count(*) FROM deliveries WHERE erasure_id = '" + erasure_id + "'"));
    const auto dead = db_->count("SELECT count(*) FROM deliveries WHERE erasure_id = '" + erasure_id + "'");
    ASSERT_GE(dead, 2) << "the erasure notice has several recipients";
    const auto first = db_->scalar("SELECT id::text FROM deliveries WHERE erasure_id = '" + erasure_id +
                                   "' ORDER BY recipient_ori LIMIT 1");
    r = on_terminal({"dlq", "replay", "-c", cfg, "--delivery", first});
    EXPECT_EQ(r.rc, 0) << r.out;
    EXPECT_NE(r.out.find("\r\033[Kdlq replay: replaying 1 dead letter(s)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1 dead letter(s) replayed"), std::string::npos) << r.out;
    r = cjhub({"dlq", "replay", "-c", cfg, "--delivery", first});
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(r.err.find("dlq replay:"), std::string::npos) << "no progress into a pipe: " << r.err;
    EXPECT_NE(r.out.find("0 dead letter(s) replayed"), std::string::npos) << "replayed already: " << r.out;
    // The rest of the notice's dead letters, named by the time they died (with any other test's
    // dead letters of that time): counted the same way.
    const std::string since = "2000-01-01T00:00:00Z";
    const auto due = db_->count("SELECT count(*) FROM deliveries WHERE state = 'dead' AND dead_at >= '" + since + "'");
    ASSERT_GE(due, dead - 1);
    r = on_terminal({"dlq", "replay", "-c", cfg, "--since", since});
    EXPECT_EQ(r.rc, 0) << r.out;
    const auto replayed = std::to_string(due);
    EXPECT_NE(r.out.find("dlq replay: replaying " + replayed + " dead letter(s)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(replayed + " dead letter(s) replayed"), std::string::npos) << r.out;
  }
}

// Last in the suite: it applies the changed file for real (and the example again after).
TEST_F(Cli, ApplyDryRunPrintsTheDiffAndTheDeadLettersItWouldMakeAndChangesNothing) {
  const auto cfg = config_file();
  // A message on the log for DCJ (delivery is off in this suite: it waits there).
  const auto posted = client("newhaven-pd")
                          .request("POST", "/v1/messages", sample("valid/arrest-packet-2.xml"),
                                   {{"Idempotency-Key", "cli-3"}});
  ASSERT_EQ(posted.status, 202u) << posted.body;
  // The file changed: DCJ gone, Hartford's endpoint moved, New Haven renamed, an agency added.
  auto text = read_file(source_dir() / "config" / "agencies.example.yaml");
  const auto dcj = text.find("  - ori: CTDCJ0000");
  const auto after_dcj = text.find("  - ori: ops1");
  ASSERT_NE(dcj, std::string::npos);
  ASSERT_NE(after_dcj, std::string::npos);
  text.replace(dcj, after_dcj - dcj,
               "  - ori: CT0099000\n    name: Waterbury Police Department\n    identities:\n"
               "      - san_uri: urn:cjhub:ori:CT0099000\n    publish: [ArrestPacket]\n\n");
  replace_all(text, "https://localhost:9442/cjhub/inbox", "https://localhost:9452/cjhub/inbox");
  replace_all(text, "New Haven Police Department", "New Haven Police");
  const auto changed = hub_->workdir() / "agencies.changed.yaml";
  std::ofstream(changed) << text;

  const std::string snapshot_sql =
      "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
      "SELECT a::text AS x FROM agencies a UNION ALL SELECT e::text FROM endpoints e "
      "UNION ALL SELECT s::text FROM subscriptions s UNION ALL SELECT i::text FROM agency_identities i "
      "UNION ALL SELECT p::text FROM agency_publish p UNION ALL SELECT d::text FROM deliveries d "
      "UNION ALL SELECT k::text FROM endpoint_cursors k) t";
  const auto before = db_->scalar(snapshot_sql);
  const auto audit_before = db_->count("SELECT count(*) FROM audit_log WHERE action = 'admin'");

  auto r = cjhub({"apply", "-c", cfg, "-f", changed.string(), "--dry-run"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  for (const char* want : {"+ agency       added     CT0099000", "~ agency       changed   CT0093000",
                           "      name: New Haven Police Department -> New Haven Police",
                           "~ endpoint     changed   CT0064000/main",
                           "      url: https://localhost:9442/cjhub/inbox -> https://localhost:9452/cjhub/inbox",
                           "- agency       disabled  CTDCJ0000", "- endpoint     removed   CTDCJ0000/main",
                           "      would dead-letter ", "nothing was changed"}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << " in:\n" << r.out;
  }
  r = cjhub({"apply", "-c", cfg, "-f", changed.string(), "--dry-run", "--format", "json"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  const auto plan = boost::json::parse(r.out).as_object();
  EXPECT_EQ(plan.at("summary").at("agency").at("added").as_int64(), 1);
  EXPECT_EQ(plan.at("summary").at("agency").at("changed").as_int64(), 2);
  EXPECT_EQ(plan.at("summary").at("agency").at("disabled").as_int64(), 1);
  EXPECT_EQ(plan.at("summary").at("endpoint").at("removed").as_int64(), 1);
  long long predicted = -1;
  for (const auto& c : plan.at("changes").as_array()) {
    const auto& o = c.as_object();
    if (o.at("kind") == "endpoint" && o.at("action") == "removed" && o.at("agency") == "CTDCJ0000") {
      predicted = o.at("dead_letters").at("deliveries").as_int64() + o.at("dead_letters").at("log_messages").as_int64();
    }
  }
  EXPECT_GE(predicted, 1) << "the arrest packet waits for DCJ on the log: " << r.out;
  EXPECT_EQ(plan.at("summary").at("dead_letters").as_int64(), predicted);
  EXPECT_EQ(cjhub({"apply", "-c", cfg, "-f", changed.string(), "--format", "json"}).rc, 2)
      << "--format json goes with --dry-run";

  EXPECT_EQ(db_->scalar(snapshot_sql), before) << "a dry run changes nothing";
  EXPECT_EQ(db_->count("SELECT count(*) FROM audit_log WHERE action = 'admin'"), audit_before);

  // Applied for real, it makes exactly the dead letters the dry run counted.
  r = cjhub({"apply", "-c", cfg, "-f", changed.string()});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(db_->count("SELECT count(*) FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id "
                       "WHERE e.ori = 'CTDCJ0000' AND d.state = 'dead' "
                       "AND d.last_error = 'endpoint removed from the agencies file'"),
            predicted);
  r = cjhub({"apply", "-c", cfg, "-f", changed.string(), "--dry-run"});
  EXPECT_NE(r.out.find("dry run: 0 agencies added, 0 changed, 0 disabled"), std::string::npos) << r.out;
  ASSERT_EQ(cjhub({"apply", "-c", cfg, "-f", (source_dir() / "config" / "agencies.example.yaml").string()}).rc, 0);
}

}  // namespace
}  // namespace cjhub::test

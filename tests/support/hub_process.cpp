#include "support/hub_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <fstream>
#include <functional>
#include <optional>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "support/test_env.hpp"
#include "support/tls_client.hpp"

namespace cjhub::test {

namespace fs = std::filesystem;

HubProcess::HubProcess(HubOptions opts) : opts_(std::move(opts)) {
  if (opts_.config.empty()) opts_.config = source_dir() / "config" / "cjhub.example.yaml";
  if (opts_.agencies.empty()) opts_.agencies = source_dir() / "config" / "agencies.example.yaml";
  char tmpl[] = "/tmp/cjhub-e2e-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
}

HubProcess::~HubProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  if (!env("CJHUB_KEEP_TEST_DIRS")) fs::remove_all(dir_, ec);
}

std::map<std::string, std::string> HubProcess::child_env() const {
  std::map<std::string, std::string> e;
  e["CJHUB_TLS_DIR"] = pki_dir().string();
  e["CJHUB_DATABASE_URL"] = opts_.database_url;
  e["CJHUB_PORT"] = "0";
  e["CJHUB_LISTEN_ADDRESS"] = "127.0.0.1";
  e["CJHUB_LOG_LEVEL"] = "info";
  // Suites that test delivery turn it on with their own sinks; the others never send anywhere.
  e["CJHUB_DELIVERY_ENABLED"] = "false";
  if (auto c = corpus_dir(); !c.empty()) e["CJHUB_CORPUS_DIR"] = c.string();
  for (const auto& [k, v] : opts_.env) e[k] = v;
  return e;
}

pid_t spawn_process(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                    const fs::path& out_file) {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

namespace {
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const fs::path& out_file) {
  return spawn_process(args, env, out_file);
}

// Waits for a ready file written by `cjhub serve` or `cjhub sink`; returns its port.
unsigned short wait_ready(pid_t& pid, const fs::path& ready, const std::function<std::string()>& log) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(ready)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      throw std::runtime_error("process exited during start-up:\n" + log());
    }
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error("process did not become ready:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto v = boost::json::parse(read_file(ready));
  return static_cast<unsigned short>(v.at("port").as_int64());
}

// Waits for `pid` to end, at most `limit`; then kills it (SIGKILL) and reaps it. Its exit status
// (-1 for a signal), or nothing if it had to be killed.
std::optional<int> wait_or_kill(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  bool killed = false;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return killed ? std::nullopt : std::optional<int>(-1);  // not ours to reap
    if (!killed && std::chrono::steady_clock::now() > until) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (killed) return std::nullopt;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

int HubProcess::run_command(const std::vector<std::string>& args, std::string* out, std::chrono::seconds limit) const {
  std::vector<std::string> full{binary().string()};
  full.insert(full.end(), args.begin(), args.end());
  const auto out_file = dir_ / "command.out";
  fs::remove(out_file);
  const pid_t pid = spawn(full, child_env(), out_file);
  // Bounded: a command that hangs (a commit waiting for a standby that never answers, a database
  // that never accepts) fails the test with its output instead of running out the tier's time.
  const auto exited = wait_or_kill(pid, limit);
  if (out) {
    *out = read_file(out_file);
    if (!exited) *out += "\n[killed: still running after " + std::to_string(limit.count()) + " s]";
  }
  return exited.value_or(-1);
}

void HubProcess::start() {
  std::string out;
  if (run_command({"apply", "-c", opts_.config.string(), "-f", opts_.agencies.string()}, &out) != 0) {
    throw std::runtime_error("cjhub apply failed: " + out);
  }
  const auto ready = dir_ / "ready.json";
  fs::remove(ready);
  pid_ = spawn({binary().string(), "serve", "-c", opts_.config.string(), "--ready-file", ready.string()},
               child_env(), dir_ / "hub.log");
  port_ = wait_ready(pid_, ready, [this] { return log(); });
  const auto fields = boost::json::parse(read_file(ready)).as_object();
  health_port_ = fields.contains("health_port") ? static_cast<unsigned short>(fields.at("health_port").as_int64()) : 0;
  ++restarts_;
}

void HubProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

SinkProcess::SinkProcess(std::string name, std::string ori, std::filesystem::path dir)
    : name_(std::move(name)), ori_(std::move(ori)), dir_(std::move(dir)) {
  fs::create_directories(dir_);
}

SinkProcess::~SinkProcess() { stop(); }

void SinkProcess::start(const std::vector<std::string>& extra) {
  stop();
  const auto ready = dir_ / (name_ + ".ready");
  fs::remove(ready);
  const auto pki = pki_dir();
  std::vector<std::string> args{binary().string(), "sink",
                                "--listen", "127.0.0.1:" + std::to_string(port_),
                                "--cert", (pki / "sinks" / (name_ + ".crt")).string(),
                                "--key", (pki / "sinks" / (name_ + ".key")).string(),
                                "--ca", (pki / "ca.crt").string(),
                                "--ori", ori_,
                                "--log", log_path().string(),
                                "--ready-file", ready.string()};
  args.insert(args.end(), base_args.begin(), base_args.end());
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = spawn(args, {}, dir_ / (name_ + ".out"));
  port_ = wait_ready(pid_, ready, [this] { return read_file(dir_ / (name_ + ".out")); });
}

void SinkProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::vector<boost::json::object> SinkProcess::receipts() const {
  std::vector<boost::json::object> out;
  std::ifstream in(log_path());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto v = boost::json::parse(line);
      if (v.is_object() && v.as_object().contains("delivery_id")) out.push_back(v.as_object());
    } catch (...) {
    }
  }
  return out;
}

int HubProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return wait_exit(std::chrono::seconds(30));
}

int HubProcess::wait_exit(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return -1;
  const auto exited = wait_or_kill(pid_, limit);
  pid_ = -1;
  return exited.value_or(-1);
}

bool HubProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string HubProcess::log() const {
  try {
    return read_file(dir_ / "hub.log");
  } catch (...) {
    return {};
  }
}

std::vector<boost::json::object> json_log_lines(const std::string& log) {
  std::vector<boost::json::object> out;
  for (std::size_t start = 0; start < log.size();) {
    auto end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const auto line = log.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    boost::system::error_code ec;
    const auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "a log line that is not a JSON object: " << line;
      continue;
    }
    const auto& o = v.as_object();
    bool complete = true;
    for (const char* k : {"ts", "level", "module", "msg"}) {
      if (!o.contains(k) || !o.at(k).is_string()) {
        ADD_FAILURE() << "a log line without its string member " << k << ": " << line;
        complete = false;
      }
    }
    if (complete) out.push_back(o);
  }
  return out;
}

}  // namespace cjhub::test

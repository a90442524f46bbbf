#include "support/hub_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
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
  if (auto c = corpus_dir(); !c.empty()) e["CJHUB_CORPUS_DIR"] = c.string();
  for (const auto& [k, v] : opts_.env) e[k] = v;
  return e;
}

namespace {
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
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
}  // namespace

int HubProcess::run_command(const std::vector<std::string>& args, std::string* out) const {
  std::vector<std::string> full{binary().string()};
  full.insert(full.end(), args.begin(), args.end());
  const auto out_file = dir_ / "command.out";
  fs::remove(out_file);
  const pid_t pid = spawn(full, child_env(), out_file);
  int status = 0;
  waitpid(pid, &status, 0);
  if (out) *out = read_file(out_file);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(ready)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("cjhub exited during start-up:\n" + log());
    }
    if (std::chrono::steady_clock::now() > until) throw std::runtime_error("cjhub did not become ready:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto v = boost::json::parse(read_file(ready));
  port_ = static_cast<unsigned short>(v.at("port").as_int64());
  ++restarts_;
}

void HubProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int HubProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > until) {
      kill9();
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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

}  // namespace cjhub::test

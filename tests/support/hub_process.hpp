// The real cjhub binary as a child process, configured from config/cjhub.example.yaml (or
// another file) through environment variables, listening on a free port.
#pragma once

#include <sys/types.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cjhub::test {

struct HubOptions {
  std::filesystem::path config;  // default: config/cjhub.example.yaml
  std::string database_url;
  std::map<std::string, std::string> env;  // extra variables for the child
  std::filesystem::path agencies;          // applied before start; default: config/agencies.example.yaml
};

class HubProcess {
 public:
  explicit HubProcess(HubOptions opts);
  ~HubProcess();  // SIGKILL if still running
  HubProcess(const HubProcess&) = delete;
  HubProcess& operator=(const HubProcess&) = delete;

  void start();  // runs apply, then serve; waits for the ready file (fails the test on timeout)
  unsigned short port() const { return port_; }
  unsigned short health_port() const { return health_port_; }  // the plain-HTTP health listener (0: off)
  pid_t pid() const { return pid_; }
  void kill9();
  int terminate();  // SIGTERM, returns the exit status (-1 if it had to be killed)
  // Waits for a process already told to stop (no signal of its own: a second SIGTERM after the
  // hub's signal handling ended would kill it); its exit status, -1 if killed or still running
  // after `limit` (then killed).
  int wait_exit(std::chrono::milliseconds limit);
  bool running();
  std::string log() const;  // everything the hub wrote to stderr
  const std::filesystem::path& workdir() const { return dir_; }

  // Runs `cjhub <args>` with the same environment; returns exit code, output in `out`; -1 (with a
  // note in `out`) if it was still running after `limit` and was killed.
  int run_command(const std::vector<std::string>& args, std::string* out = nullptr,
                  std::chrono::seconds limit = std::chrono::seconds(240)) const;

 private:
  std::map<std::string, std::string> child_env() const;
  HubOptions opts_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  unsigned short health_port_ = 0;
  int restarts_ = 0;
};

// The lines of a hub's log written with logging.format json, each parsed. A line that is not a JSON
// object with ts, level, module and msg fails the test and is left out.
std::vector<boost::json::object> json_log_lines(const std::string& log);

// Spawns argv with extra environment, stdout and stderr appended to out_file.
pid_t spawn_process(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                    const std::filesystem::path& out_file);

// A `cjhub sink` child process with a dev-PKI sink certificate (sinks/<name>.crt), logging one
// JSON line per received delivery. Keeps its port across restarts (the first start picks one).
class SinkProcess {
 public:
  SinkProcess(std::string name, std::string ori, std::filesystem::path dir);
  ~SinkProcess();
  void start(const std::vector<std::string>& extra_args = {});
  void stop();  // SIGTERM and wait
  bool running() const { return pid_ > 0; }
  unsigned short port() const { return port_; }
  const std::string& ori() const { return ori_; }
  std::string url() const { return "https://" + host + ":" + std::to_string(port_) + "/inbox"; }
  std::filesystem::path log_path() const { return dir_ / (name_ + ".jsonl"); }
  std::vector<boost::json::object> receipts() const;

  // Passed to every start, before that start's own arguments.
  std::vector<std::string> base_args;
  // The host name in url(): its certificate also names <name>.sink.test (scripts/dev-pki).
  std::string host = "localhost";
  std::string test_name() const { return name_ + ".sink.test"; }

 private:
  std::string name_;
  std::string ori_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

}  // namespace cjhub::test

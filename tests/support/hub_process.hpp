// The real cjhub binary as a child process, configured from config/cjhub.example.yaml (or
// another file) through environment variables, listening on a free port.
#pragma once

#include <sys/types.h>

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
  pid_t pid() const { return pid_; }
  void kill9();
  int terminate();  // SIGTERM, returns the exit status (-1 if it had to be killed)
  bool running();
  std::string log() const;  // everything the hub wrote to stderr
  const std::filesystem::path& workdir() const { return dir_; }

  // Runs `cjhub <args>` with the same environment; returns exit code, output in `out`.
  int run_command(const std::vector<std::string>& args, std::string* out = nullptr) const;

 private:
  std::map<std::string, std::string> child_env() const;
  HubOptions opts_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  int restarts_ = 0;
};

}  // namespace cjhub::test

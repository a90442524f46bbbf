// Stops and starts the harness's PostgreSQL cluster (CJHUB_TEST_PG_CTL, set by scripts/test) for
// outage tests. The tiers run one test at a time, so the shared cluster may go down. Whatever a
// test does after stop(), the cluster is started again when this object goes away.
#pragma once

#include <cstdlib>
#include <string>

namespace cjhub::test {

class PgControl {
 public:
  PgControl() {
    const char* ctl = std::getenv("CJHUB_TEST_PG_CTL");
    if (ctl != nullptr) ctl_ = ctl;
  }
  ~PgControl() {
    if (stopped_) start();
  }
  PgControl(const PgControl&) = delete;
  PgControl& operator=(const PgControl&) = delete;

  bool available() const { return !ctl_.empty(); }
  // Fast shutdown: every connection is cut. True when the cluster stopped.
  bool stop() {
    stopped_ = true;
    return std::system((ctl_ + " -m fast -w stop >/dev/null 2>&1").c_str()) == 0;
  }
  bool start() {
    const bool ok = std::system((ctl_ + " -w -t 60 start >/dev/null 2>&1").c_str()) == 0;
    if (ok) stopped_ = false;
    return ok;
  }

 private:
  std::string ctl_;
  bool stopped_ = false;
};

}  // namespace cjhub::test

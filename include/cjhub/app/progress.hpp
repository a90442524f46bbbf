// A progress line for long commands (migrate, dlq replay, erasures report, audit verify): one
// line on stderr, rewritten at most four times a second ("audit verify: 1,234,567 records (42%),
// 81,000/s"), cleared at the end. Only when stderr is a terminal: in cron, a pipe or the journal
// it writes nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace cjhub::app {

class Progress {
 public:
  // `what`: the command ("audit verify"); `unit`: what is counted ("records").
  Progress(std::string what, std::string unit);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  // `done` so far, of `total` when known (0: unknown). Cheap to call for every row.
  void update(long long done, long long total = 0);
  // For one long step that counts nothing: the line shows the time elapsed until finish().
  void tick_while_running();
  // What the ticking line says from now on ("applying 0025_x.sql (2 of 3)"), redrawn at once.
  void say(std::string unit);
  void finish();

  static bool stderr_is_terminal();

 private:
  void draw(long long done, long long total, bool force);
  void clear();
  std::string what_, unit_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
  std::thread ticker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// 1234567 -> "1,234,567"
std::string with_thousands(long long n);

}  // namespace cjhub::app

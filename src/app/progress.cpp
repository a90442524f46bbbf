#include "cjhub/app/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace cjhub::app {

namespace {
constexpr auto kInterval = std::chrono::milliseconds(250);  // at most four updates a second
}

std::string with_thousands(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

bool Progress::stderr_is_terminal() { return ::isatty(STDERR_FILENO) != 0; }

Progress::Progress(std::string what, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), enabled_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()), last_(start_ - kInterval) {}

Progress::~Progress() { finish(); }

void Progress::update(long long done, long long total) {
  if (!enabled_) return;
  draw(done, total, false);
}

void Progress::draw(long long done, long long total, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < kInterval) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  std::string line = what_ + ": ";
  if (done >= 0) {
    line += with_thousands(done) + " " + unit_;
    if (total > 0) line += fmt::format(" ({}%)", std::min<long long>(100, done * 100 / total));
    if (secs >= 1.0) line += ", " + with_thousands(static_cast<long long>(done / secs)) + "/s";
  } else {
    line += fmt::format("{} ({:.0f} s)", unit_, secs);
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::tick_while_running() {
  if (!enabled_ || ticker_.joinable()) return;
  ticker_ = std::thread([this] {
    std::unique_lock lock(mu_);
    do {  // drawn at least once, however short the step
      draw(-1, 0, true);
      cv_.wait_for(lock, kInterval);
    } while (!stop_);
  });
}

void Progress::say(std::string unit) {
  std::lock_guard lock(mu_);  // the ticker draws under the same lock
  unit_ = std::move(unit);
  if (enabled_ && ticker_.joinable()) draw(-1, 0, true);
}

void Progress::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

void Progress::finish() {
  if (ticker_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    ticker_.join();
  }
  if (enabled_) clear();
}

}  // namespace cjhub::app

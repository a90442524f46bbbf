#include "cjhub/common/log.hpp"

#include "cjhub/common/utf8.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <charconv>
#include <ctime>
#include <mutex>

namespace cjhub::log {

const std::vector<std::string>& module_names() {
  static const std::vector<std::string> names = {"app",        "config", "store", "audit", "identity",
                                                 "validation", "intake", "outbox", "api", "ingress",
                                                 "delivery",   "sink",   "ops"};
  return names;
}

namespace {
std::mutex g_mutex;

// The fields of the call being logged on this thread (FieldScope), null outside one.
thread_local const Fields* t_fields = nullptr;
}  // namespace

namespace detail {
FieldScope::FieldScope(Fields fields) noexcept : previous_(t_fields), fields_(fields) { t_fields = &fields_; }
FieldScope::~FieldScope() { t_fields = previous_; }
}  // namespace detail

void Field::append_value(std::string& out) const {
  if (!is_number_) {
    out.append(text_);
    return;
  }
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, number_);
  out.append(buf, ec == std::errc() ? end : buf);
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

void append_json_escaped(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(esc, sizeof esc);
      ++i;
      continue;
    }
    const auto n = utf8_sequence_length(text.substr(i));
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
}

namespace {

// A text field's value goes bare when it is printable ASCII without spaces, quotes, backslashes
// or '=' (ids, ORIs, numbers); otherwise quoted and escaped as a JSON string is, so a line stays
// one line and `key=value` pairs stay apart whatever a peer sent.
bool bare(std::string_view v) {
  if (v.empty()) return false;
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F || c == '"' || c == '\\' || c == '=') return false;
  }
  return true;
}

// One line: `ts level [module] msg key=value ...` (text) or one JSON object (json), in UTC with
// microseconds. Level names are the configuration's (spdlog's own say "warning" and "err").
class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    line_.clear();
    append_time(msg.time);
    const std::string_view level = level_name(msg.level);
    const std::string_view module(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (json_) {
      line_ += "{\"ts\":\"";
      line_ += stamp_;
      line_ += "\",\"level\":\"";
      line_ += level;
      line_ += "\",\"module\":\"";
      append_json_escaped(module, line_);
      line_ += "\",\"msg\":\"";
      append_json_escaped(text, line_);
      line_ += '"';
      if (t_fields != nullptr) {
        for (const auto& f : *t_fields) {
          if (f.empty()) continue;
          line_ += ",\"";
          append_json_escaped(f.key(), line_);
          line_ += "\":\"";
          value_.clear();
          f.append_value(value_);
          append_json_escaped(value_, line_);
          line_ += '"';
        }
      }
      line_ += "}\n";
    } else {
      line_ += stamp_;
      line_ += ' ';
      line_ += level;
      for (auto n = level.size(); n < 5; ++n) line_ += ' ';
      line_ += " [";
      line_ += module;
      line_ += "] ";
      line_ += text;
      if (t_fields != nullptr) {
        for (const auto& f : *t_fields) {
          if (f.empty()) continue;
          line_ += ' ';
          line_ += f.key();
          line_ += '=';
          value_.clear();
          f.append_value(value_);
          if (bare(value_)) {
            line_ += value_;
          } else {
            line_ += '"';
            append_json_escaped(value_, line_);
            line_ += '"';
          }
        }
      }
      line_ += '\n';
    }
    dest.append(line_.data(), line_.data() + line_.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<LineFormatter>(json_); }

 private:
  // 2026-12-05T18:56:05.123456Z into stamp_; the part up to the second is kept for the next line.
  void append_time(spdlog::log_clock::time_point tp) {
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(tp.time_since_epoch()).count();
    auto secs = us / 1000000;
    auto frac = us % 1000000;
    if (frac < 0) {
      frac += 1000000;
      --secs;
    }
    if (secs != cached_second_ || second_text_.empty()) {
      const std::time_t t = static_cast<std::time_t>(secs);
      std::tm tm{};
      gmtime_r(&t, &tm);
      char buf[32];
      const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      second_text_.assign(buf, n);
      cached_second_ = secs;
    }
    char frac_text[6];
    for (int i = 5; i >= 0; --i) {
      frac_text[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    stamp_ = second_text_;
    stamp_ += '.';
    stamp_.append(frac_text, sizeof frac_text);
    stamp_ += 'Z';
  }

  bool json_;
  long long cached_second_ = -1;
  std::string second_text_;
  std::string stamp_;
  std::string line_;
  std::string value_;
};

std::shared_ptr<spdlog::logger> make(const std::string& module, const Settings& s,
                                     const spdlog::sink_ptr& sink) {
  auto logger = std::make_shared<spdlog::logger>(module, sink);
  const auto it = s.module_levels.find(module);
  logger->set_level(spdlog::level::from_str(it != s.module_levels.end() ? it->second : s.level));
  logger->set_formatter(make_formatter(s.format));
  logger->flush_on(spdlog::level::warn);
  return logger;
}
}  // namespace

std::unique_ptr<spdlog::formatter> make_formatter(const std::string& format) {
  return std::make_unique<LineFormatter>(format == "json");
}

void setup(const Settings& settings) {
  std::lock_guard lock(g_mutex);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  for (const auto& m : module_names()) {
    spdlog::drop(m);
    spdlog::register_logger(make(m, settings, sink));
  }
}

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  if (auto l = spdlog::get(module)) return l;
  std::lock_guard lock(g_mutex);
  if (auto l = spdlog::get(module)) return l;
  auto l = make(module, Settings{}, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  spdlog::register_logger(l);
  return l;
}

}  // namespace cjhub::log

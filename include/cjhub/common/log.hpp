// Logging: one named spdlog logger per module ("ingress", "outbox", ...), created by
// setup_logging() from the configuration. Log lines carry ids, never payload content.
//
// The ids a line concerns go as fields, beside the message:
//
//   log::info(lg, {{"message_id", id}, {"request_id", rid}, {"agency", ori}}, "accepted a {}", type);
//
// text:  2026-12-05T18:56:05.123456Z info  [api] accepted a CaseUpdate message_id=0193... agency=CT0064000
// json:  {"ts":"...","level":"info","module":"api","msg":"accepted a CaseUpdate","message_id":"0193...",...}
//
// Field names are fixed identifiers (see docs/operations.md for the ones in use; never ts, level,
// module or msg); values are any bytes, escaped when written; a field whose value is empty is
// left out. Nothing is built when the level is off: the fields are views onto the caller's
// values, and the level is checked first.
#pragma once

#include <spdlog/spdlog.h>

#include <concepts>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cjhub::log {

struct Settings {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text or json
  std::map<std::string, std::string> module_levels;
};

// The module names a configuration may set a level for.
const std::vector<std::string>& module_names();

// Creates (or re-creates) the module loggers, writing to stderr.
void setup(const Settings& settings);

// Appends `text` escaped for the inside of a JSON string: quotes, backslashes and control
// characters are escaped, valid UTF-8 is kept, and each byte that is not part of a valid UTF-8
// sequence (a peer's garbage, a cut multi-byte character) becomes U+FFFD, so a line is valid JSON
// whatever it quotes.
void append_json_escaped(std::string_view text, std::string& out);

// The logger of a module; falls back to a stderr logger at "info" if setup() has not run.
std::shared_ptr<spdlog::logger> get(const std::string& module);

// The name of a level as the configuration spells it: trace, debug, info, warn, error, critical.
std::string_view level_name(spdlog::level::level_enum level);

// One field of a line: a fixed identifier and a value that refers to the caller's bytes (or a
// number). Lives only for the call that logs it.
class Field {
 public:
  Field(const char* key, std::string_view value) : key_(key), text_(value) {}
  Field(const char* key, const std::string& value) : key_(key), text_(value) {}
  Field(const char* key, const char* value) : key_(key), text_(value != nullptr ? value : "") {}
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  Field(const char* key, T value) : key_(key), number_(static_cast<long long>(value)), is_number_(true) {}
  Field(const char* key, bool value) : key_(key), text_(value ? "true" : "false") {}

  std::string_view key() const { return key_; }
  // An empty text: the field is left out of the line (an id the event does not have).
  bool empty() const { return !is_number_ && text_.empty(); }
  // The value as text (a number in decimal).
  void append_value(std::string& out) const;

 private:
  const char* key_;
  std::string_view text_;
  long long number_ = 0;
  bool is_number_ = false;
};
using Fields = std::initializer_list<Field>;

// The formatter of one line, "text" or "json" (the logging.format values): the configured level
// names, UTC time with microseconds, and the fields of the call that logs it. setup() gives every
// logger one; tests give one to a logger of their own.
std::unique_ptr<spdlog::formatter> make_formatter(const std::string& format);

namespace detail {
// The fields of the line being logged on this thread, read by the formatter (spdlog formats on
// the calling thread: every sink here is synchronous).
class FieldScope {
 public:
  explicit FieldScope(Fields fields) noexcept;
  ~FieldScope();
  FieldScope(const FieldScope&) = delete;
  FieldScope& operator=(const FieldScope&) = delete;

 private:
  const Fields* previous_;
  Fields fields_;
};
}  // namespace detail

// Logs `fmt` with `fields` at `level`, when the logger's level lets it through.
template <typename... Args>
void write(spdlog::logger& lg, spdlog::level::level_enum level, Fields fields, spdlog::format_string_t<Args...> fmt,
           Args&&... args) {
  if (!lg.should_log(level)) return;
  detail::FieldScope scope(fields);
  lg.log(level, fmt, std::forward<Args>(args)...);
}

template <typename... Args>
void trace(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt, Args&&... a) {
  write(*lg, spdlog::level::trace, f, fmt, std::forward<Args>(a)...);
}
template <typename... Args>
void debug(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt, Args&&... a) {
  write(*lg, spdlog::level::debug, f, fmt, std::forward<Args>(a)...);
}
template <typename... Args>
void info(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt, Args&&... a) {
  write(*lg, spdlog::level::info, f, fmt, std::forward<Args>(a)...);
}
template <typename... Args>
void warn(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt, Args&&... a) {
  write(*lg, spdlog::level::warn, f, fmt, std::forward<Args>(a)...);
}
template <typename... Args>
void error(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt, Args&&... a) {
  write(*lg, spdlog::level::err, f, fmt, std::forward<Args>(a)...);
}
template <typename... Args>
void critical(const std::shared_ptr<spdlog::logger>& lg, Fields f, spdlog::format_string_t<Args...> fmt,
              Args&&... a) {
  write(*lg, spdlog::level::critical, f, fmt, std::forward<Args>(a)...);
}

}  // namespace cjhub::log

#include "cjhub/common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

namespace cjhub::log {

const std::vector<std::string>& module_names() {
  static const std::vector<std::string> names = {"app",        "config", "store", "audit", "identity",
                                                 "validation", "outbox", "api",   "ingress",
                                                 "delivery",   "sink"};
  return names;
}

namespace {
std::mutex g_mutex;

// %* : the message, escaped for a JSON string (quotes, backslashes, control characters).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const char ch : msg.payload) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (c < 0x20) {
            const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
            dest.append(std::string_view(esc, sizeof esc));
          } else {
            dest.push_back(ch);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

std::shared_ptr<spdlog::logger> make(const std::string& module, const Settings& s,
                                     const spdlog::sink_ptr& sink) {
  auto logger = std::make_shared<spdlog::logger>(module, sink);
  const auto it = s.module_levels.find(module);
  logger->set_level(spdlog::level::from_str(it != s.module_levels.end() ? it->second : s.level));
  if (s.format == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    f->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","module":"%n","msg":"%*"})");
    logger->set_formatter(std::move(f));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %-5l [%n] %v", spdlog::pattern_time_type::utc);
  }
  logger->flush_on(spdlog::level::warn);
  return logger;
}
}  // namespace

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

// The log line formats (common/log.cpp): level names as the configuration spells them, fields
// beside the message in text (key=value) and JSON (one string member each), and valid JSON
// whatever bytes the message or a field holds.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <boost/json.hpp>
#include <random>
#include <sstream>

#include "cjhub/common/log.hpp"

namespace cjhub {
namespace {

const std::string kFffd = "\xef\xbf\xbd";

// A logger of its own writing into `out` with the formatter of `format`.
struct Captured {
  explicit Captured(const std::string& format, spdlog::level::level_enum level = spdlog::level::trace) {
    logger = std::make_shared<spdlog::logger>("api", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_formatter(log::make_formatter(format));
    logger->set_level(level);
  }
  // The lines written since the last call.
  std::vector<std::string> lines() {
    std::vector<std::string> v;
    std::istringstream in(out.str());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    out.str("");
    return v;
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
};

boost::json::object parse_line(const std::string& line) {
  boost::system::error_code ec;
  auto v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << line;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::string str(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string("<missing>");
}

TEST(LogFormat, EveryByteAloneIsValidJsonInTheMessageAndInAFieldValue) {
  Captured c("json");
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    log::warn(c.logger, {{"peer", one}, {"request_id", "r"}}, "got {}", one);
    const auto lines = c.lines();
    ASSERT_EQ(lines.size(), 1u) << "byte " << b << ": one line, whatever it is";
    const auto o = parse_line(lines[0]);
    const std::string expected = b < 0x80 ? one : kFffd;
    EXPECT_EQ(str(o, "msg"), "got " + expected) << "byte " << b;
    EXPECT_EQ(str(o, "peer"), expected) << "byte " << b;
    EXPECT_EQ(str(o, "request_id"), "r");
    EXPECT_EQ(str(o, "level"), "warn");
    EXPECT_EQ(str(o, "module"), "api");
  }
}

// A random text built from pieces whose escaped form is known without the code under test: valid
// characters of every length (kept), bytes that never start a valid sequence, lone continuation
// bytes and sequences cut short (each byte becomes U+FFFD). A cut sequence is followed by ASCII,
// so no later piece can complete it.
std::pair<std::string, std::string> random_text(std::mt19937& rng) {
  std::string raw, expected;
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  auto encode = [](char32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  const int pieces = pick(40);
  for (int i = 0; i < pieces; ++i) {
    switch (pick(6)) {
      case 0: {  // any ASCII, controls, quotes and backslashes included
        const std::string s(1, static_cast<char>(pick(0x80)));
        raw += s;
        expected += s;
        break;
      }
      case 1: {  // a valid character of 2, 3 or 4 bytes (no surrogates)
        char32_t cp = 0;
        switch (pick(3)) {
          case 0: cp = 0x80 + pick(0x800 - 0x80); break;
          case 1: cp = 0x800 + pick(0xD800 - 0x800); break;
          default: cp = 0x10000 + pick(0x110000 - 0x10000); break;
        }
        const auto s = encode(cp);
        raw += s;
        expected += s;
        break;
      }
      case 2: {  // never a valid start: C0, C1, F5..FF
        const int bad[] = {0xC0, 0xC1, 0xF5, 0xF6, 0xF7, 0xF8, 0xFB, 0xFE, 0xFF};
        raw += static_cast<char>(bad[pick(9)]);
        expected += kFffd;
        break;
      }
      case 3: {  // a lone continuation byte
        raw += static_cast<char>(0x80 + pick(0x40));
        expected += kFffd;
        break;
      }
      case 4: {  // a sequence cut short, then ASCII
        const auto s = encode(0x800 + pick(0xD800 - 0x800));  // three bytes
        const auto keep = 1 + pick(2);
        raw += s.substr(0, keep);
        for (int k = 0; k < keep; ++k) expected += kFffd;
        raw += 'x';
        expected += 'x';
        break;
      }
      default: {  // a surrogate, encoded anyway (never valid UTF-8): three replacement characters
        raw += encode(0xD800 + pick(0x800));
        expected += kFffd + kFffd + kFffd;
        break;
      }
    }
  }
  return {raw, expected};
}

TEST(LogFormat, RandomBytesMakeValidJsonAndKeepTheirValidUtf8) {
  std::mt19937 rng(20261205);
  Captured c("json");
  for (int i = 0; i < 3000; ++i) {
    const auto [msg, msg_expected] = random_text(rng);
    const auto [value, value_expected] = random_text(rng);
    log::error(c.logger, {{"agency", value}, {"attempt", i}}, "{}", msg);
    const auto lines = c.lines();
    ASSERT_EQ(lines.size(), 1u) << "case " << i;
    const auto o = parse_line(lines[0]);
    ASSERT_FALSE(o.empty()) << "case " << i;
    EXPECT_EQ(str(o, "msg"), msg_expected) << "case " << i;
    if (value_expected.empty()) {
      EXPECT_FALSE(o.contains("agency")) << "an empty field is left out: " << lines[0];
    } else {
      EXPECT_EQ(str(o, "agency"), value_expected) << "case " << i;
    }
    EXPECT_EQ(str(o, "attempt"), std::to_string(i));
    EXPECT_EQ(o.size(), value_expected.empty() ? 5u : 6u) << lines[0];
  }
}

TEST(LogFormat, LevelNamesAreTheConfigurationsInBothFormats) {
  const std::pair<spdlog::level::level_enum, const char*> levels[] = {
      {spdlog::level::trace, "trace"}, {spdlog::level::debug, "debug"}, {spdlog::level::info, "info"},
      {spdlog::level::warn, "warn"},   {spdlog::level::err, "error"},   {spdlog::level::critical, "critical"}};
  Captured json("json");
  Captured text("text");
  for (const auto& [level, name] : levels) {
    EXPECT_EQ(spdlog::level::from_str(name), level) << name << " is what a configuration says";
    EXPECT_EQ(log::level_name(level), name);
    log::write(*json.logger, level, {}, "x");
    const auto j = json.lines();
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(str(parse_line(j[0]), "level"), name);
    text.logger->log(level, "x");  // without fields, through spdlog's own call
    const auto t = text.lines();
    ASSERT_EQ(t.size(), 1u);
    // 2026-12-05T18:56:05.123456Z warn  [api] x
    ASSERT_GT(t[0].size(), 28u) << t[0];
    EXPECT_EQ(t[0].substr(28, t[0].find(' ', 28) - 28), name) << t[0];
    EXPECT_EQ(t[0][26], 'Z') << t[0];
    EXPECT_NE(t[0].find(" [api] x"), std::string::npos) << t[0];
  }
}

TEST(LogFormat, TextRendersFieldsAsKeyValueQuotedWhenNeeded) {
  Captured c("text");
  const std::string id = "0193a7c2-5b7e-7d3c-9a1f-2c4e6b8d0f12";
  log::info(c.logger,
            {{"message_id", id},
             {"agency", "CT0064000"},
             {"endpoint", 42LL},
             {"peer", "10.0.0.7:51234"},
             {"note", "two words"},
             {"quoted", "say \"hi\" \\ now"},
             {"eq", "a=b"},
             {"empty", ""},
             {"newline", "a\nb\xff"}},
            "accepted a {}", "CaseUpdate");
  const auto lines = c.lines();
  ASSERT_EQ(lines.size(), 1u) << "a value's newline does not end the line";
  const auto& l = lines[0];
  const auto msg_at = l.find("] accepted a CaseUpdate ");
  ASSERT_NE(msg_at, std::string::npos) << l;
  EXPECT_EQ(l.substr(msg_at + 24),
            "message_id=" + id +
                " agency=CT0064000 endpoint=42 peer=10.0.0.7:51234 note=\"two words\" "
                "quoted=\"say \\\"hi\\\" \\\\ now\" eq=\"a=b\" newline=\"a\\nb\\ufffd\"")
      << "an empty value is left out";
  EXPECT_NE(l.find(" info  [api] "), std::string::npos) << l;
}

TEST(LogFormat, JsonGivesEachFieldItsOwnStringMemberOnlyForItsOwnCall) {
  Captured c("json", spdlog::level::info);
  log::info(c.logger, {{"message_id", "m-1"}, {"request_id", ""}, {"status", 202u}, {"ok", true}, {"attempt", 0}},
            "accepted {}", 1);
  log::debug(c.logger, {{"message_id", "hidden"}}, "below the level");
  c.logger->info("a line of its own");
  const auto lines = c.lines();
  ASSERT_EQ(lines.size(), 2u) << "the debug line is not written";
  const auto first = parse_line(lines[0]);
  EXPECT_EQ(str(first, "msg"), "accepted 1");
  EXPECT_EQ(str(first, "message_id"), "m-1");
  EXPECT_EQ(str(first, "status"), "202");
  EXPECT_EQ(str(first, "ok"), "true");
  EXPECT_EQ(str(first, "attempt"), "0") << "a number is never empty";
  EXPECT_FALSE(first.contains("request_id")) << "an empty value is left out: " << lines[0];
  const auto ts = str(first, "ts");
  ASSERT_EQ(ts.size(), 27u) << ts;  // 2026-12-05T18:56:05.123456Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
  const auto second = parse_line(lines[1]);
  EXPECT_EQ(second.size(), 4u) << "ts, level, module, msg and no field of an earlier call: " << lines[1];
}

}  // namespace
}  // namespace cjhub

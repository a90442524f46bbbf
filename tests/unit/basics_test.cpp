// Small building blocks: ids, hashing, time formatting, the problem table, identity resolution.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>

#include "cjhub/api/problem.hpp"
#include "cjhub/common/csv.hpp"
#include "cjhub/common/crypto.hpp"
#include "cjhub/common/ids.hpp"
#include "cjhub/common/log.hpp"
#include "cjhub/common/time.hpp"
#include "cjhub/common/utf8.hpp"
#include "cjhub/identity/directory.hpp"

namespace cjhub {
namespace {

TEST(Uuid, V7IsTimeOrderedVersionedAndRoundTrips) {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 2000; ++i) {
    const auto u = Uuid::v7();
    const auto s = u.str();
    ASSERT_EQ(s.size(), 36u);
    EXPECT_EQ(s[14], '7');
    EXPECT_TRUE(s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b') << s;
    EXPECT_TRUE(seen.insert(s).second);
    EXPECT_GE(s.substr(0, 13), prev.substr(0, std::min<std::size_t>(13, prev.size())));
    prev = s;
    const auto back = Uuid::parse(s);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, u);
  }
}

TEST(Uuid, ParseRejectsMalformed) {
  EXPECT_FALSE(Uuid::parse(""));
  EXPECT_FALSE(Uuid::parse("0190c1a2-7b3c-7def-8abc-0123456789a"));
  EXPECT_FALSE(Uuid::parse("0190c1a2x7b3c-7def-8abc-0123456789ab"));
  EXPECT_FALSE(Uuid::parse("0190c1a2-7b3c-7def-8abc-0123456789ag"));
  EXPECT_TRUE(Uuid::parse("0190C1A2-7B3C-7DEF-8ABC-0123456789AB"));
}

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Time, Rfc3339Utc) {
  const SystemTime t{std::chrono::microseconds(1700000000123456LL)};
  EXPECT_EQ(rfc3339(t), "2023-11-14T22:13:20.123456Z");
}

TEST(Problem, EveryProblemHasAStatusAndStableType) {
  using api::Problem;
  EXPECT_EQ(api::info(Problem::malformed_xml).status, 400u);
  EXPECT_EQ(api::info(Problem::type_not_allowed).status, 403u);
  EXPECT_EQ(api::info(Problem::idempotency_conflict).status, 422u);  // the IETF Idempotency-Key draft
  EXPECT_EQ(api::info(Problem::length_required).status, 411u);
  EXPECT_EQ(api::info(Problem::payload_too_large).status, 413u);
  EXPECT_EQ(api::info(Problem::unsupported_media_type).status, 415u);
  EXPECT_EQ(api::info(Problem::schema_invalid).status, 422u);
  EXPECT_EQ(api::info(Problem::database_unavailable).status, 503u);
  std::set<std::string> slugs;
  for (int p = 0; p <= static_cast<int>(Problem::internal_error); ++p) {
    const auto& i = api::info(static_cast<Problem>(p));
    EXPECT_TRUE(slugs.insert(i.slug).second) << i.slug;
    EXPECT_GE(i.status, 400u);
  }
  const auto r = api::problem(Problem::schema_invalid, "line 3", "/v1/messages",
                              {{"errors", boost::json::array{}}});
  EXPECT_EQ(r.status, 422u);
  EXPECT_EQ(r.content_type, "application/problem+json");
  const auto v = boost::json::parse(r.body).as_object();
  EXPECT_EQ(v.at("type").as_string(), "https://localhost/problems/schema-invalid");
  EXPECT_EQ(v.at("status").as_int64(), 422);
  EXPECT_EQ(v.at("detail").as_string(), "line 3");
  EXPECT_TRUE(v.at("errors").is_array());
  const auto busy = api::problem(Problem::database_unavailable, "");
  ASSERT_FALSE(busy.headers.empty());
  EXPECT_EQ(busy.headers[0].first, "Retry-After");
}

TEST(Identity, ResolvesExactlyOneActiveAgency) {
  config::Agency hpd{"CT0064000", "Hartford", config::Role::agency,
                     {{config::IdentityKind::san_uri, "urn:cjhub:ori:CT0064000"}}, {"ArrestPacket"}, {}, {}};
  config::Agency nhpd{"CT0093000", "New Haven", config::Role::agency,
                      {{config::IdentityKind::sha256, std::string(64, 'a')}}, {}, {}, {}};
  config::Agency gone{"CT0000000", "Closed", config::Role::agency,
                      {{config::IdentityKind::san_uri, "urn:closed"}}, {"ArrestPacket"}, {}, {}};
  identity::Snapshot snap({hpd, nhpd}, {gone});
  identity::PeerCertificate cert;
  EXPECT_EQ(snap.resolve(cert).result, identity::Resolution::no_certificate);
  cert.present = true;
  cert.san_uris = {"urn:other"};
  EXPECT_EQ(snap.resolve(cert).result, identity::Resolution::unknown);
  cert.san_uris = {"urn:closed"};
  EXPECT_EQ(snap.resolve(cert).result, identity::Resolution::disabled);
  cert.san_uris = {"urn:cjhub:ori:CT0064000"};
  auto r = snap.resolve(cert);
  ASSERT_EQ(r.result, identity::Resolution::ok);
  EXPECT_EQ(r.agency->ori, "CT0064000");
  EXPECT_TRUE(r.agency->publish.count("ArrestPacket"));
  cert.sha256 = std::string(64, 'a');  // also matches New Haven
  EXPECT_EQ(snap.resolve(cert).result, identity::Resolution::ambiguous);
}

}  // namespace
}  // namespace cjhub

#include "api/query.hpp"

namespace cjhub {
namespace {

TEST(Query, ParamsAreDecodedAndTimestampsChecked) {
  const auto q = api::query_params("/v1/erasures?status=overdue&since=2026-11-21T00%3A00%3A00Z&agency=CT0064000&x");
  EXPECT_EQ(q.at("status"), "overdue");
  EXPECT_EQ(q.at("since"), "2026-11-21T00:00:00Z");
  EXPECT_EQ(q.at("agency"), "CT0064000");
  EXPECT_FALSE(api::get(q, "until"));
  for (const char* ok : {"2026-11-21", "2026-11-21T03:00:00Z", "2026-11-21T03:00:00.123456-05:00", "2026-11-21 03:00"}) {
    EXPECT_TRUE(api::valid_timestamp(ok)) << ok;
  }
  for (const char* bad : {"yesterday", "2026-11-21T03:00:00 00:00", "2026-13", "'; DROP TABLE x; --", ""}) {
    EXPECT_FALSE(api::valid_timestamp(bad)) << bad;
  }
  std::optional<std::string> good = "2026-11-21", wrong = "soon", none;
  EXPECT_EQ(api::bad_timestamp({{"since", &good}, {"until", &none}}), nullptr);
  EXPECT_STREQ(api::bad_timestamp({{"since", &good}, {"until", &wrong}}), "until");
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

// One named logger per module; a module's level from logging.modules overrides the default.
TEST(Logging, EachModuleHasItsLoggerAndItsOwnLevel) {
  log::Settings s;
  s.level = "warn";
  s.module_levels = {{"outbox", "debug"}, {"delivery", "error"}};
  log::setup(s);
  for (const auto& m : log::module_names()) {
    ASSERT_NE(log::get(m), nullptr) << m;
    EXPECT_EQ(log::get(m)->name(), m);
  }
  EXPECT_EQ(log::get("outbox")->level(), spdlog::level::debug);
  EXPECT_EQ(log::get("delivery")->level(), spdlog::level::err);
  EXPECT_EQ(log::get("api")->level(), spdlog::level::warn);
  EXPECT_EQ(log::get("audit")->level(), spdlog::level::warn);
  log::setup(log::Settings{});  // back to the defaults for the other tests
  EXPECT_EQ(log::get("outbox")->level(), spdlog::level::info);
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

TEST(Csv, CellsAreQuotedOnlyWhenNeeded) {
  EXPECT_EQ(csv_cell("OTN-2026-1"), "OTN-2026-1");
  EXPECT_EQ(csv_cell(""), "");
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines"), "\"two\nlines\"");
}

TEST(Csv, FormulaCellsAreNeutralised) {
  // A spreadsheet would evaluate these; a leading quote makes them text.
  EXPECT_EQ(csv_cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(csv_cell("+1"), "\"'+1\"");
  EXPECT_EQ(csv_cell("-2+3"), "\"'-2+3\"");
  EXPECT_EQ(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(csv_cell("\tx"), "\"'\tx\"");
  EXPECT_EQ(csv_cell("\rx"), "\"'\rx\"");
  EXPECT_EQ(csv_cell("a=b"), "a=b") << "only a leading character is a formula";
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

std::string json_string_of(std::string_view raw) {
  std::string inner;
  log::append_json_escaped(raw, inner);
  // boost::json refuses a string that is not valid UTF-8 or holds an unescaped control character.
  boost::system::error_code ec;
  const auto v = boost::json::parse("\"" + inner + "\"", ec);
  EXPECT_FALSE(ec) << ec.message() << " for " << inner;
  return ec ? std::string("<invalid>") : std::string(v.as_string());
}

TEST(JsonLog, EscapesAndKeepsValidUtf8) {
  EXPECT_EQ(json_string_of("a \"b\" \\ c\n\t\r\x01"), "a \"b\" \\ c\n\t\r\x01");
  EXPECT_EQ(json_string_of("Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"), "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(JsonLog, InvalidUtf8BecomesReplacementCharacters) {
  const std::string fffd = "\xef\xbf\xbd";
  EXPECT_EQ(json_string_of("a\xff" "b"), "a" + fffd + "b");
  EXPECT_EQ(json_string_of("\xc0\xaf"), fffd + fffd) << "overlong '/'";
  EXPECT_EQ(json_string_of("\xed\xa0\x80"), fffd + fffd + fffd) << "a surrogate";
  EXPECT_EQ(json_string_of("\xf4\x90\x80\x80"), fffd + fffd + fffd + fffd) << "above U+10FFFF";
  EXPECT_EQ(json_string_of("cut \xe2\x82"), "cut " + fffd + fffd) << "a character cut short";
  EXPECT_EQ(json_string_of("\x80\xbf"), fffd + fffd) << "lone continuation bytes";
}

TEST(JsonLog, EveryLineIsValidJsonWhateverTheMessageHolds) {
  log::Settings s;
  s.format = "json";
  log::setup(s);
  testing::internal::CaptureStderr();
  log::get("ingress")->warn("peer sent {}", std::string("\xff\xfe\"}\n{\x01\xc3", 8));
  const auto out = testing::internal::GetCapturedStderr();
  log::setup(log::Settings{});
  ASSERT_FALSE(out.empty());
  ASSERT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line: " << out;
  boost::system::error_code ec;
  const auto v = boost::json::parse(out, ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << out;
  EXPECT_EQ(v.at("module").as_string(), "ingress");
  EXPECT_EQ(v.at("level").as_string(), "warn");
  EXPECT_NE(std::string(v.at("msg").as_string()).find("\"}\n{"), std::string::npos);
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

TEST(Utf8, CappedTextIsValidAndCutOnACharacterBoundary) {
  EXPECT_EQ(utf8_capped("short", 10), "short");
  EXPECT_EQ(utf8_capped("exactly10!", 10), "exactly10!");
  EXPECT_EQ(utf8_capped("eleven char", 10), "eleven ...");
  // "ä" is two bytes: never split.
  EXPECT_EQ(utf8_capped("\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4", 8), "\xC3\xA4\xC3\xA4...");
  EXPECT_EQ(utf8_capped("a\xFF" "b", 10), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8_capped("\xED\xA0\x80", 20), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a surrogate";
  EXPECT_EQ(utf8_capped(std::string(100, 'x'), 2), "") << "no room even for the mark";
  for (std::size_t cap = 0; cap < 40; ++cap) {
    const auto out = utf8_capped("\xF0\x9F\x98\x80 caf\xC3\xA9 \xFF\xFE tail", cap);
    EXPECT_LE(out.size(), cap);
    std::string inner;
    log::append_json_escaped(out, inner);
    EXPECT_EQ(inner.find("\\ufffd"), std::string::npos) << "valid UTF-8 at cap " << cap;
  }
}

}  // namespace
}  // namespace cjhub

// The console's sessions (tokens a browser must send beside its certificate) and its embedded
// assets. No I/O.
#include <gtest/gtest.h>

#include "cjhub/console/assets.hpp"
#include "cjhub/console/sessions.hpp"

namespace cjhub::console {
namespace {

const std::string kCert = "89ada39515348100ff1b90df917e4f55a9fe9ffc7474753a861ba2ad93ce1262";
const std::string kOtherCert = "87b00596685f5a73ac3fddfc17304b553e767e6dd8be27267cd3ebe1b5235c7d";
const SystemTime kT0 = SystemTime(std::chrono::seconds(1'800'000'000));

TEST(ConsoleSessions, ATokenIsGoodForItsCertificateAndComesBackRefreshed) {
  const Sessions s(std::chrono::seconds(900));
  const auto token = s.issue(kCert, kT0);
  const auto later = kT0 + std::chrono::seconds(600);
  const auto c = s.check(token, kCert, later);
  ASSERT_EQ(c.verdict, Sessions::Verdict::ok);
  EXPECT_NE(c.refreshed, token) << "the refreshed token carries the new activity time";
  // Used again within the timeout of the refreshed token, though past the first one's.
  EXPECT_EQ(s.check(c.refreshed, kCert, later + std::chrono::seconds(600)).verdict, Sessions::Verdict::ok);
  EXPECT_EQ(s.check(token, kCert, later + std::chrono::seconds(600)).verdict, Sessions::Verdict::expired);
}

TEST(ConsoleSessions, AnIdleSessionEndsAtItsTimeout) {
  const Sessions s(std::chrono::seconds(900));
  const auto token = s.issue(kCert, kT0);
  EXPECT_EQ(s.check(token, kCert, kT0 + std::chrono::seconds(900)).verdict, Sessions::Verdict::ok);
  EXPECT_EQ(s.check(token, kCert, kT0 + std::chrono::seconds(901)).verdict, Sessions::Verdict::expired);
}

TEST(ConsoleSessions, AnotherCertificateAForgedOrForeignTokenIsRefused) {
  const Sessions s(std::chrono::seconds(900));
  const Sessions other_hub(std::chrono::seconds(900));
  const auto token = s.issue(kCert, kT0);
  EXPECT_EQ(s.check(token, kOtherCert, kT0).verdict, Sessions::Verdict::invalid) << "bound to the certificate";
  EXPECT_EQ(other_hub.check(token, kCert, kT0).verdict, Sessions::Verdict::invalid) << "another key";
  EXPECT_EQ(s.check("", kCert, kT0).verdict, Sessions::Verdict::missing);
  // The time moved forward by hand, the MAC kept: refused.
  auto forged = token;
  const auto dot = forged.find('.', 3);
  forged.replace(3, dot - 3, std::to_string(1'800'000'000'000LL + 3'600'000));
  EXPECT_EQ(s.check(forged, kCert, kT0).verdict, Sessions::Verdict::invalid);
  for (const char* bad : {"v1.", "v1.x.y", "v2.1.abc", "garbage", "v1.1800000000000.", "v1.-5.00"}) {
    EXPECT_EQ(s.check(bad, kCert, kT0).verdict, Sessions::Verdict::invalid) << bad;
  }
  EXPECT_EQ(s.check(std::string(5000, 'a'), kCert, kT0).verdict, Sessions::Verdict::invalid);
  EXPECT_EQ(s.check(token, "", kT0).verdict, Sessions::Verdict::invalid) << "no certificate, no session";
}

TEST(ConsoleSessions, ATokenStampedInTheFutureIsRefused) {
  const Sessions s(std::chrono::seconds(900));
  const auto token = s.issue(kCert, kT0 + std::chrono::minutes(5));
  EXPECT_EQ(s.check(token, kCert, kT0).verdict, Sessions::Verdict::invalid);
}

TEST(ConsoleAssets, ThePageAndItsFilesAreEmbeddedAndNothingOutsideThem) {
  const auto* index = find_asset("");
  ASSERT_NE(index, nullptr) << "index.html is embedded";
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->bytes.find("<html"), std::string_view::npos);
  EXPECT_EQ(find_asset("index.html"), index);
  const auto* js = find_asset("console.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  for (const char* bad : {"../CMakeLists.txt", "/index.html", "..\\index.html", "x/../index.html", "nope.js"}) {
    EXPECT_EQ(find_asset(bad), nullptr) << bad;
  }
}

TEST(ConsoleAssets, ThePageRunsNoInlineScriptOrStyle) {
  // The Content-Security-Policy forbids inline script and style: the page must not need them.
  const auto* index = find_asset("index.html");
  ASSERT_NE(index, nullptr);
  const std::string html(index->bytes);
  for (std::size_t p = html.find("<script"); p != std::string::npos; p = html.find("<script", p + 1)) {
    const auto end = html.find('>', p);
    ASSERT_NE(end, std::string::npos);
    EXPECT_NE(html.substr(p, end - p).find("src="), std::string::npos) << "an inline script: " << html.substr(p, 80);
  }
  EXPECT_EQ(html.find("<style"), std::string::npos);
  EXPECT_EQ(html.find("style=\""), std::string::npos);
  EXPECT_EQ(html.find(" onclick="), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos) << "no third-party requests";
}

}  // namespace
}  // namespace cjhub::console

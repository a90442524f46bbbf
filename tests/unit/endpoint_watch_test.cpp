// Unit tier: what the hub keeps in memory of each endpoint between flushes (per-minute buckets,
// answer-time histogram, which idle endpoints are due for a probe), and the scorecard's arithmetic
// that needs no database (months, answer-time quantiles).
#include <gtest/gtest.h>

#include "cjhub/ops/component_history.hpp"
#include "cjhub/ops/endpoint_watch.hpp"
#include "cjhub/store/availability_repo.hpp"

namespace cjhub {
namespace {

using namespace std::chrono_literals;
using Seen = ops::EndpointWatch::Seen;
using Clock = std::chrono::system_clock;

Clock::time_point at_minute(std::int64_t minute, int second = 0) {
  return Clock::time_point(std::chrono::seconds(minute * 60 + second));
}

TEST(EndpointWatch, AttemptsAndProbesAreCountedPerEndpointAndMinuteWithTheirAnswerTimes) {
  ops::EndpointWatch w;
  w.attempt(7, Seen::up, at_minute(1000, 5), 8ms);      // bucket 0 (<= 10 ms)
  w.attempt(7, Seen::up, at_minute(1000, 59), 10ms);    // bounds are inclusive: still bucket 0
  w.attempt(7, Seen::down, at_minute(1000, 30), std::nullopt);  // no answer: no answer time
  w.attempt(7, Seen::other, at_minute(1000, 31), 30ms);  // bucket 2 (25-50 ms)
  w.probe(7, false, at_minute(1001), 20s);              // past the last bound: the last bucket
  w.attempt(9, Seen::down, at_minute(1000), 600ms);     // a 503 answered in 600 ms: bucket 6
  const auto b = w.take();
  ASSERT_EQ(b.size(), 3u);  // oldest minute first
  EXPECT_EQ(b[0].minute, 1000 * 60);
  EXPECT_EQ(b[0].endpoint_id, 7);
  EXPECT_EQ(b[0].attempts_up, 2);
  EXPECT_EQ(b[0].attempts_down, 1);
  EXPECT_EQ(b[0].attempts_other, 1);
  EXPECT_EQ(b[0].answer_ms[0], 2);
  EXPECT_EQ(b[0].answer_ms[2], 1);
  EXPECT_EQ(b[1].endpoint_id, 9);
  EXPECT_EQ(b[1].answer_ms[6], 1);
  EXPECT_EQ(b[2].minute, 1001 * 60);
  EXPECT_EQ(b[2].probes_down, 1);
  EXPECT_EQ(b[2].answer_ms[store::kAnswerBoundsMs.size()], 1);
  EXPECT_TRUE(w.take().empty());
}

TEST(EndpointWatch, AFailedFlushIsKeptAndMergedAndTheBoundDropsTheOldestMinutes) {
  ops::EndpointWatch w(2);
  w.attempt(1, Seen::up, at_minute(10), 5ms);
  auto b = w.take();
  w.attempt(1, Seen::up, at_minute(10), 5ms);  // came in while the flush failed
  w.restore(b);
  b = w.take();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].attempts_up, 2);
  EXPECT_EQ(b[0].answer_ms[0], 2);
  EXPECT_EQ(w.dropped(), 0u);
  for (int m = 20; m < 25; ++m) w.attempt(1, Seen::up, at_minute(m), std::nullopt);
  b = w.take();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].minute, 23 * 60);  // the newest two are kept
  EXPECT_EQ(w.dropped(), 3u);
}

TEST(EndpointWatch, OnlyEndpointsIdleForTheIntervalAreDueAndEachOnceAnInterval) {
  ops::EndpointWatch w;
  const auto t0 = std::chrono::steady_clock::now();
  // First held 30 s ago: nothing is due before an interval has passed.
  EXPECT_TRUE(w.due_for_probe({1, 2, 3}, t0 - 30s, 60s).empty());
  EXPECT_TRUE(w.due_for_probe({1, 2, 3}, t0 + 29s, 60s).empty());
  w.attempt(2, Seen::up, Clock::now(), 5ms);  // traffic now: 2 is watched by its deliveries
  const auto later = t0 + 31s;                // 1 and 3 idle for 61 s, 2 for 31 s
  const auto due2 = w.due_for_probe({1, 2, 3}, later, 60s);
  EXPECT_EQ(due2, (std::vector<long long>{1, 3}));
  // Returned once: not again until another interval has passed.
  EXPECT_TRUE(w.due_for_probe({1, 2, 3}, later + 1s, 60s).empty());
  // An endpoint no longer held is forgotten; held again, it waits an interval again.
  EXPECT_TRUE(w.due_for_probe({3}, later + 120s, 60s) == std::vector<long long>{3});
  EXPECT_TRUE(w.due_for_probe({1, 3}, later + 121s, 60s).empty());
}

TEST(Scorecard, MonthsAreCalendarMonthsInUtcAndAnythingElseIsRefused) {
  const auto m = store::month_period("2026-12");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->first, "2026-12-01T00:00:00Z");
  EXPECT_EQ(m->second, "2027-01-01T00:00:00Z");
  EXPECT_EQ(store::month_period("2027-02")->second, "2027-03-01T00:00:00Z");
  for (const char* bad : {"", "2026-13", "2026-00", "2026-1", "26-12", "2026/12", "2026-12-01", "1999-12", "２０２６-12"}) {
    EXPECT_FALSE(store::month_period(bad).has_value()) << bad;
  }
  EXPECT_TRUE(store::month_period(store::current_month()).has_value());
}

TEST(Scorecard, AnswerTimeQuantilesInterpolateWithinTheirBucket) {
  store::AnswerCounts c{};
  EXPECT_FALSE(store::answer_quantile(c, 0.5).has_value());
  c[0] = 50;  // <= 10 ms
  c[3] = 50;  // 50-100 ms
  EXPECT_NEAR(*store::answer_quantile(c, 0.5), 10.0, 1e-9);
  EXPECT_NEAR(*store::answer_quantile(c, 0.75), 75.0, 1e-9);
  EXPECT_NEAR(*store::answer_quantile(c, 0.99), 99.0, 1e-9);
  c = {};
  c[store::kAnswerBoundsMs.size()] = 3;  // all beyond 10 s: reported as the last bound
  EXPECT_EQ(*store::answer_quantile(c, 0.99), 10000.0);
}

}  // namespace
}  // namespace cjhub

namespace cjhub {
namespace {

TEST(ComponentHistory, EverySecondCountsPerComponentAndMinuteAndOverallIsEveryComponentAtOnce) {
  ops::ComponentHistory h(100);
  using C = api::Readiness::ComponentState;
  const auto t = [](int s) { return std::chrono::system_clock::time_point(std::chrono::seconds(600 + s)); };
  for (int s = 0; s < 50; ++s) h.sample({C{"database", true, ""}, C{"tls", true, ""}}, t(s));
  for (int s = 50; s < 60; ++s) h.sample({C{"database", false, ""}, C{"tls", true, ""}}, t(s));
  h.sample({C{"database", true, ""}, C{"tls", true, ""}}, t(60));  // the next minute
  auto rows = h.take();
  ASSERT_EQ(rows.size(), 6u);  // minute, then component: database, overall, tls
  EXPECT_EQ(rows[0].minute, 600);
  EXPECT_EQ(rows[0].component, "database");
  EXPECT_EQ(rows[0].ok_s, 50);
  EXPECT_EQ(rows[0].down_s, 10);
  EXPECT_EQ(rows[1].component, "overall");
  EXPECT_EQ(rows[1].down_s, 10);
  EXPECT_EQ(rows[2].component, "tls");
  EXPECT_EQ(rows[2].ok_s, 60);
  EXPECT_EQ(rows[3].minute, 660);
  // A failed write comes back merged; past the bound the oldest minutes go.
  h.sample({C{"database", true, ""}}, t(61));
  h.restore(rows);
  rows = h.take();
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[3].ok_s, 2);  // minute 660's database: one restored, one new
  ops::ComponentHistory small(2);
  for (int m = 0; m < 3; ++m) small.sample({C{"database", true, ""}}, t(60 * m));
  EXPECT_EQ(small.take().size(), 2u);
  EXPECT_EQ(small.dropped(), 4u);
}

}  // namespace
}  // namespace cjhub

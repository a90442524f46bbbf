// Unit tier: the submitter counts kept in memory between flushes (no database: the component is
// not started).
#include <gtest/gtest.h>

#include "cjhub/ops/submitter_watch.hpp"

namespace cjhub {
namespace {

using Clock = std::chrono::system_clock;

Clock::time_point at(std::int64_t day, int second) { return Clock::time_point(std::chrono::seconds(day * 86400 + second)); }

TEST(SubmitterWatch, OutcomesAreCountedPerAgencyDayAndOutcomeWithTheLatestAcceptance) {
  ops::SubmitterWatch w("postgresql://unused", std::chrono::milliseconds(100), std::chrono::seconds(60));
  w.count("CT0064000", "accepted", at(20000, 10), 1'800'000'000);
  w.count("CT0064000", "accepted", at(20000, 500), 1'900'000'000);  // the latest: its certificate is kept
  w.count("CT0064000", "accepted", at(20000, 300), 1'700'000'000);
  w.count("CT0064000", "refused:schema-invalid", at(20000, 400));
  w.count("CT0093000", "accepted", at(20001, 5));  // the next day (UTC)
  const auto c = w.take();
  ASSERT_EQ(c.size(), 3u);  // day, then agency, then outcome
  EXPECT_EQ(c[0].ori, "CT0064000");
  EXPECT_EQ(c[0].outcome, "accepted");
  EXPECT_EQ(c[0].day, 20000LL * 86400);
  EXPECT_EQ(c[0].n, 3);
  ASSERT_TRUE(c[0].last_accepted.has_value());
  EXPECT_EQ(*c[0].last_accepted, at(20000, 500));
  EXPECT_EQ(c[0].certificate_not_after, 1'900'000'000) << "the certificate of the latest accepted submission";
  EXPECT_EQ(c[1].outcome, "refused:schema-invalid");
  EXPECT_FALSE(c[1].last_accepted.has_value());
  EXPECT_EQ(c[2].ori, "CT0093000");
  EXPECT_EQ(c[2].day, 20001LL * 86400);
  EXPECT_TRUE(w.take().empty());
}

TEST(SubmitterWatch, AFailedFlushIsMergedBackAndTheBoundDropsTheOldestDays) {
  ops::SubmitterWatch w("postgresql://unused", std::chrono::milliseconds(100), std::chrono::seconds(60), 2);
  w.count("A", "accepted", at(1, 1));
  auto c = w.take();
  w.count("A", "accepted", at(1, 9));
  w.restore(c);
  c = w.take();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].n, 2);
  EXPECT_EQ(*c[0].last_accepted, at(1, 9));
  for (int d = 2; d < 6; ++d) w.count("A", "accepted", at(d, 0));
  c = w.take();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].day, 4 * 86400);
  EXPECT_EQ(w.dropped(), 2u);
}

}  // namespace
}  // namespace cjhub

// The per-agency token buckets (no I/O): a burst is granted at once, then the refused requests
// are given turns spread over the time the agency's tokens arrive, and each agency has its own.
#include <gtest/gtest.h>

#include <chrono>

#include "cjhub/api/rate_limit.hpp"

using cjhub::api::RateLimiter;
using namespace std::chrono_literals;

TEST(RateLimiter, RefusedRequestsAreGivenTurnsOneTokenApartSoTheyComeBackOneByOne) {
  RateLimiter limiter(100.0, 10.0);  // a token every 10 ms, ten at once (refilled in 100 ms)
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter.take("CT0093000", t0), 0ms) << "the burst is granted";
  // Five refusals at the same instant: each a turn 10 ms after the previous one.
  std::vector<std::chrono::milliseconds> turns;
  for (int i = 0; i < 5; ++i) turns.push_back(limiter.take("CT0093000", t0));
  ASSERT_EQ(turns.size(), 5u);
  EXPECT_EQ(turns[0], 10ms);
  for (std::size_t i = 1; i < turns.size(); ++i) EXPECT_EQ(turns[i] - turns[i - 1], 10ms) << "turn " << i;
  // Another agency is not behind New Haven's refusals.
  EXPECT_EQ(limiter.take("CT0064000", t0), 0ms);
  // At the first turn a token is there again; the next refusal queues after the turns given.
  EXPECT_EQ(limiter.take("CT0093000", t0 + 10ms), 0ms);
  EXPECT_EQ(limiter.take("CT0093000", t0 + 10ms), 50ms) << "after the five turns already given (t0+20..60 ms)";
}

TEST(RateLimiter, ATurnIsNeverFurtherAheadThanAFullBucketsRefill) {
  RateLimiter limiter(10.0, 5.0);  // a token every 100 ms; the bucket fills in 500 ms
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter.take("CT0093000", t0), 0ms);
  std::chrono::milliseconds last{0};
  for (int i = 0; i < 50; ++i) last = limiter.take("CT0093000", t0);
  EXPECT_EQ(last, 500ms) << "a flood of refusals is told at most the refill time";
  // Once the turns given have passed, a refusal's turn is the next token again.
  EXPECT_EQ(limiter.take("CT0093000", t0 + 10s), 0ms);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(limiter.take("CT0093000", t0 + 10s), 0ms);
  EXPECT_EQ(limiter.take("CT0093000", t0 + 10s), 100ms);
}

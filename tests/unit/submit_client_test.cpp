// The reference client's decisions (src/client/submit.cpp): what is retried and after how long,
// and the Idempotency-Key a document carries.
#include <gtest/gtest.h>

#include "cjhub/client/submit.hpp"

namespace cjhub::client {
namespace {

using namespace std::chrono_literals;

Answer answer(unsigned status, std::string retry_after = {}) {
  Answer a;
  a.status = status;
  if (!retry_after.empty()) a.headers.emplace_back("retry-after", retry_after);
  return a;
}

TEST(SubmitClient, OnlyNoAnswerTimeoutsRateLimitsAndServerErrorsAreTriedAgain) {
  const RetryPolicy p;
  for (const unsigned final_status : {202u, 400u, 401u, 403u, 404u, 409u, 413u, 415u, 422u, 501u, 505u}) {
    EXPECT_FALSE(next_try(answer(final_status), 1, p, 0.5)) << final_status;
  }
  for (const unsigned again : {0u, 408u, 429u, 500u, 502u, 503u, 504u}) {
    EXPECT_TRUE(next_try(answer(again), 1, p, 0.5)) << again;
  }
}

TEST(SubmitClient, RetryAfterIsHonouredAndCapped) {
  RetryPolicy p;
  EXPECT_EQ(next_try(answer(429, "3"), 1, p, 0.0), 3000ms);
  EXPECT_EQ(next_try(answer(503, "0"), 1, p, 0.9), 0ms);
  p.max_delay = 10s;
  EXPECT_EQ(next_try(answer(429, "7200"), 1, p, 0.0), 10000ms) << "never longer than the policy's cap";
  // An HTTP-date (or anything else) is not a number of seconds: the backoff applies.
  const auto d = next_try(answer(503, "Fri, 04 Dec 2026 20:00:00 GMT"), 1, p, 0.5);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, 500ms);
}

TEST(SubmitClient, TheBackoffDoublesWithJitterUpToItsCapAndTriesRunOut) {
  RetryPolicy p;
  p.initial = 500ms;
  p.max_delay = 4s;
  p.max_tries = 6;
  EXPECT_EQ(next_try(answer(0), 1, p, 0.5), 500ms);
  EXPECT_EQ(next_try(answer(0), 2, p, 0.5), 1000ms);
  EXPECT_EQ(next_try(answer(0), 3, p, 0.5), 2000ms);
  EXPECT_EQ(next_try(answer(0), 5, p, 0.5), 4000ms) << "capped";
  EXPECT_EQ(next_try(answer(0), 1, p, 0.0), 400ms) << "-20 %";
  EXPECT_EQ(next_try(answer(0), 1, p, 0.999999), 599ms) << "up to +20 %";
  EXPECT_FALSE(next_try(answer(503), 6, p, 0.5)) << "the sixth try was the last";
}

TEST(SubmitClient, TheIdempotencyKeyIsTheDocumentsSha256) {
  EXPECT_EQ(idempotency_key_of("abc"), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(idempotency_key_of("<a/>"), idempotency_key_of("<a/>\n")) << "a byte more is another document";
  EXPECT_LE(idempotency_key_of(std::string(1 << 20, 'x')).size(), 200u) << "within the hub's limit";
}

TEST(SubmitClient, AnswerHeadersAreFoundWhateverTheirCase) {
  Answer a;
  a.headers = {{"Location", "/v1/messages/1"}, {"idempotent-replayed", "true"}};
  EXPECT_EQ(a.header("location"), "/v1/messages/1");
  EXPECT_EQ(a.header("Idempotent-Replayed"), "true");
  EXPECT_EQ(a.header("Retry-After"), "");
}

}  // namespace
}  // namespace cjhub::client

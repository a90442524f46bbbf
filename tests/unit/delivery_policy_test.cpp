// The delivery policy, free of I/O: what an endpoint's answer means for a delivery.
#include <gtest/gtest.h>

#include "cjhub/delivery/dispatcher.hpp"

namespace cjhub::delivery {
namespace {

using Kind = store::Completion::Kind;
using namespace std::chrono_literals;

config::Delivery policy() {
  config::Delivery d;
  d.backoff_initial = 1000ms;
  d.backoff_max = 60000ms;
  d.backoff_multiplier = 2;
  d.jitter_percent = 20;
  d.max_retry_after = std::chrono::seconds(300);
  return d;
}

OutboundResult http(unsigned status) {
  OutboundResult r;
  r.status = status;
  return r;
}

TEST(DeliveryPolicy, TwoHundredsAreDelivered) {
  for (unsigned s : {200u, 201u, 202u, 204u}) {
    const auto v = judge(http(s), 1, policy(), 0.5);
    EXPECT_EQ(v.kind, Kind::delivered) << s;
    EXPECT_FALSE(v.endpoint_failure);
  }
}

TEST(DeliveryPolicy, RetryableAnswersAndTransportErrorsAreRetried) {
  for (unsigned s : {408u, 429u, 500u, 502u, 503u, 504u}) {
    const auto v = judge(http(s), 1, policy(), 0.5);
    EXPECT_EQ(v.kind, Kind::retry) << s;
    EXPECT_TRUE(v.endpoint_failure) << s;
    EXPECT_NE(v.error.find(std::to_string(s)), std::string::npos);
  }
  for (auto e : {TransportError::connect, TransportError::tls, TransportError::timeout, TransportError::io,
                 TransportError::resolve}) {
    OutboundResult r;
    r.error = e;
    r.error_detail = "details";
    const auto v = judge(r, 1, policy(), 0.5);
    EXPECT_EQ(v.kind, Kind::retry) << to_string(e);
    EXPECT_NE(v.error.find(to_string(e)), std::string::npos);
    // A name that does not resolve is as often the hub's DNS as the endpoint: it never counts
    // towards pausing the endpoint.
    EXPECT_EQ(v.endpoint_failure, e != TransportError::resolve) << to_string(e);
  }
}

TEST(DeliveryPolicy, OtherClientErrorsAreDeadAtOnce) {
  for (unsigned s : {400u, 401u, 403u, 404u, 409u, 413u, 422u}) {
    const auto v = judge(http(s), 1, policy(), 0.5);
    EXPECT_EQ(v.kind, Kind::dead) << s;
    EXPECT_FALSE(v.endpoint_failure) << "a 4xx comes from a working endpoint";
  }
  OutboundResult bad;
  bad.error = TransportError::bad_url;
  EXPECT_EQ(judge(bad, 1, policy(), 0.5).kind, Kind::dead);
}

TEST(DeliveryPolicy, BackoffIsExponentialCappedAndJittered) {
  // jitter draw 0.5 = no jitter
  EXPECT_EQ(judge(http(503), 1, policy(), 0.5).delay, 1000ms);
  EXPECT_EQ(judge(http(503), 2, policy(), 0.5).delay, 2000ms);
  EXPECT_EQ(judge(http(503), 5, policy(), 0.5).delay, 16000ms);
  EXPECT_EQ(judge(http(503), 30, policy(), 0.5).delay, 60000ms);  // capped
  // draws 0 and 1 are the ends of +/-20 %
  EXPECT_EQ(judge(http(503), 2, policy(), 0.0).delay, 1600ms);
  EXPECT_EQ(judge(http(503), 2, policy(), 1.0).delay, 2400ms);
}

TEST(DeliveryPolicy, RetryAfterIsHonouredAndCapped) {
  auto r = http(429);
  r.retry_after = std::chrono::seconds(42);
  EXPECT_EQ(judge(r, 1, policy(), 0.9).delay, 42000ms);
  r.retry_after = std::chrono::seconds(100000);
  EXPECT_EQ(judge(r, 1, policy(), 0.9).delay, 300000ms);
}

}  // namespace
}  // namespace cjhub::delivery

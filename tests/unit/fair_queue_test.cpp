// The writers' queue (no I/O): one FIFO per agency taken round-robin, so one agency's burst does
// not keep another's message out of the next group, and each agency's share is counted.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cjhub/outbox/fair_queue.hpp"

using cjhub::outbox::FairQueue;

namespace {

std::vector<std::string> take(FairQueue<std::string>& q, std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n) {
    auto item = q.pop();
    if (!item) break;
    out.push_back(*item);
  }
  return out;
}

}  // namespace

TEST(FairQueue, AnAgencysBurstDoesNotKeepAnotherAgencysMessageOutOfTheNextGroup) {
  FairQueue<std::string> q;
  for (int i = 0; i < 100; ++i) q.push("CT0093000", "nh" + std::to_string(i), 10);
  q.push("CT0064000", "hpd0", 7);
  q.push("CT0064000", "hpd1", 7);
  EXPECT_EQ(q.size(), 102u);
  EXPECT_EQ(q.bytes(), 1014u);
  const auto group = take(q, 4);  // a group of four, formed after the burst was queued
  EXPECT_EQ(group, (std::vector<std::string>{"nh0", "hpd0", "nh1", "hpd1"}));
  EXPECT_EQ(take(q, 3), (std::vector<std::string>{"nh2", "nh3", "nh4"})) << "each agency's own order is kept";
  EXPECT_EQ(q.size(), 95u);
}

TEST(FairQueue, EachAgencysShareIsCountedInItemsAndBytesUntilItsQueueEmpties) {
  FairQueue<std::string> q;
  q.push("A", "a0", 100);
  q.push("A", "a1", 50);
  q.push("B", "b0", 1);
  EXPECT_EQ(q.share_of("A").items, 2u);
  EXPECT_EQ(q.share_of("A").bytes, 150u);
  EXPECT_EQ(q.share_of("C").items, 0u);
  EXPECT_EQ(*q.pop(), "a0");
  EXPECT_EQ(q.share_of("A").items, 1u);
  EXPECT_EQ(q.share_of("A").bytes, 50u);
  EXPECT_EQ(*q.pop(), "b0");
  EXPECT_EQ(q.share_of("B").items, 0u);
  EXPECT_EQ(*q.pop(), "a1");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_FALSE(q.pop().has_value());
  q.push("A", "a2", 3);  // an agency whose queue emptied takes its turn again
  EXPECT_EQ(*q.pop(), "a2");
}

// The dispatcher's cache of log bodies: bounded by bytes, lowest positions dropped first.
#include <gtest/gtest.h>

#include <string>

#include "cjhub/delivery/body_cache.hpp"

using cjhub::delivery::BodyCache;

TEST(BodyCache, KeepsBodiesByPositionAndHandsOutCopies) {
  BodyCache cache(100);
  cache.put(7, "seven");
  cache.put(9, "nine");
  EXPECT_TRUE(cache.contains(7));
  EXPECT_FALSE(cache.contains(8));
  EXPECT_EQ(cache.get(9).value_or(""), "nine");
  EXPECT_FALSE(cache.get(8).has_value());
  EXPECT_EQ(cache.bytes(), 9u);
  cache.put(7, "other");  // a position holds one body: the first stays
  EXPECT_EQ(cache.get(7).value_or(""), "seven");
}

TEST(BodyCache, DropsTheLowestPositionsWhenFull) {
  BodyCache cache(10);
  cache.put(3, "aaaa");
  cache.put(1, "bbbb");
  cache.put(2, "cccc");  // 12 bytes: position 1 goes
  EXPECT_FALSE(cache.contains(1));
  EXPECT_TRUE(cache.contains(2));
  EXPECT_TRUE(cache.contains(3));
  EXPECT_EQ(cache.bytes(), 8u);
  cache.put(4, "0123456789");  // exactly the bound: everything else goes
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.bytes(), 10u);
  cache.put(5, "01234567890");  // larger than the whole cache: not kept, nothing dropped
  EXPECT_FALSE(cache.contains(5));
  EXPECT_TRUE(cache.contains(4));
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

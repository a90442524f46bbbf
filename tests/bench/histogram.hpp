// A log-linear latency histogram for the benchmark programs.
//
// Values are nanoseconds. Below 128 ns every value has its own bucket; above, each power of two is
// split into 128 equal buckets, so a bucket is at most 1/128 of its lower bound wide and a
// reported percentile is within 0.4% of the recorded value. Values up to 2^36 ns (about 68.7 s)
// are kept at that precision; larger ones are counted in the last bucket (max() stays exact).
// 3,840 counters (30 KB) whatever the number of samples.
//
// Not thread-safe: keep one per thread and merge() them at the end.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cjhub::bench {

class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}

  // Records one value; negative values count as 0.
  void record(std::int64_t ns) {
    const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
    ++counts_[index_of(v)];
    ++count_;
    if (count_ == 1 || v < min_) min_ = v;
    if (v > max_) max_ = v;
  }

  // Adds every value recorded in `other`.
  void merge(const Histogram& other) {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
  }

  // The value at or below which p percent of the values lie (p in [0, 100]); 0 when empty.
  // Reported as the middle of its bucket, clamped to the recorded minimum and maximum; the
  // maximum itself for p = 100 and for values beyond the last bucket.
  std::int64_t percentile(double p) const {
    if (count_ == 0) return 0;
    p = std::clamp(p, 0.0, 100.0);
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
    if (rank >= count_) return static_cast<std::int64_t>(max_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i + 1 < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return static_cast<std::int64_t>(std::clamp(middle_of(i), min_, max_));
    }
    return static_cast<std::int64_t>(max_);  // in the overflow bucket
  }

  std::uint64_t count() const { return count_; }
  std::int64_t min() const { return static_cast<std::int64_t>(min_); }
  std::int64_t max() const { return static_cast<std::int64_t>(max_); }

 private:
  static constexpr unsigned kSubBits = 7;                        // 128 buckets per power of two
  static constexpr std::uint64_t kSub = std::uint64_t{1} << kSubBits;
  static constexpr unsigned kTopBit = 36;                        // values below 2^36 ns (68.7 s)
  static constexpr std::size_t kBuckets = kSub + (kTopBit - kSubBits) * kSub;

  static std::size_t index_of(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    if (v >= (std::uint64_t{1} << kTopBit)) return kBuckets - 1;
    const unsigned e = static_cast<unsigned>(std::bit_width(v)) - 1;  // floor(log2 v), >= kSubBits
    const unsigned shift = e - kSubBits;
    return static_cast<std::size_t>(kSub + (e - kSubBits) * kSub + ((v >> shift) - kSub));
  }

  static std::uint64_t middle_of(std::size_t i) {
    if (i < kSub) return i;
    const auto octave = static_cast<unsigned>((i - kSub) / kSub);  // e - kSubBits
    const std::uint64_t sub = (i - kSub) % kSub;
    const std::uint64_t lower = (kSub + sub) << octave;
    return lower + ((std::uint64_t{1} << octave) >> 1);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace cjhub::bench

#include "cjhub/common/utf8.hpp"

namespace cjhub {

std::size_t utf8_sequence_length(std::string_view s) noexcept {
  if (s.empty()) return 0;
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

std::string utf8_capped(std::string_view s, std::size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  static constexpr std::string_view kCut = "...";
  std::string out;
  out.reserve(std::min(s.size(), max_bytes + kReplacement.size()));
  // Valid UTF-8 up to one character past the cap (enough to know whether to cut).
  for (std::size_t i = 0; i < s.size() && out.size() <= max_bytes;) {
    const auto n = utf8_sequence_length(s.substr(i));
    out += n == 0 ? kReplacement : s.substr(i, n);
    i += n == 0 ? 1 : n;
  }
  if (out.size() <= max_bytes) return out;
  if (max_bytes < kCut.size()) return {};
  // `out` is valid UTF-8: cut before the character that would be split.
  std::size_t end = max_bytes - kCut.size();
  if (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(out[start]) & 0xC0) == 0x80) --start;
    if (start + utf8_sequence_length(std::string_view(out).substr(start)) > end) end = start;
  }
  out.resize(end);
  return out + std::string(kCut);
}

}  // namespace cjhub

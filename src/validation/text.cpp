// Small text helpers: UTF-8 <-> UTF-16 without the locale-dependent XMLString::transcode, capped
// issue messages, and the prolog check that classifies a refused DOCTYPE.
#include <algorithm>

#include "validation/internal.hpp"

namespace cjhub::validation::detail {

bool utf8_to_utf16(std::string_view in, xstring& out) {
  out.clear();
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80) {
      out.push_back(static_cast<char16_t>(c));
      continue;
    }
    int extra = 0;
    char32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < extra) return false;
    for (int i = 0; i < extra; ++i) {
      const unsigned cc = *p++;
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return true;
}

void append_utf8(std::string& out, const XMLCh* s, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (static_cast<char32_t>(s[i + 1]) - 0xDC00);
      ++i;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

std::string to_utf8(const XMLCh* s) {
  std::string out;
  if (s == nullptr) return out;
  std::size_t n = 0;
  while (s[n] != 0) ++n;
  append_utf8(out, s, n);
  return out;
}

std::string capped_message(std::string_view utf8, std::size_t max_bytes) {
  std::string out;
  const bool cut = utf8.size() > max_bytes;
  std::size_t n = std::min(utf8.size(), max_bytes);
  if (cut) {
    // Do not split a UTF-8 sequence, and leave room for the ellipsis.
    n = max_bytes > 3 ? max_bytes - 3 : 0;
    while (n > 0 && (static_cast<unsigned char>(utf8[n]) & 0xC0) == 0x80) --n;
  }
  out.reserve(n + 3);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
  }
  if (cut) out += "...";
  return out;
}

std::string capped_message(const XMLCh* s, std::size_t max_bytes) {
  if (s == nullptr) return {};
  // Look at a bounded prefix only: each UTF-16 unit yields at least one UTF-8 byte, so a prefix
  // of max_bytes + 1 units is enough to decide whether the message must be cut.
  std::size_t n = 0;
  while (n <= max_bytes && s[n] != 0) ++n;
  std::string utf8;
  append_utf8(utf8, s, n);
  return capped_message(std::string_view(utf8), max_bytes);
}

namespace {

// A view of the document's prolog as a sequence of code units, whatever the byte encoding.
class PrologReader {
 public:
  explicit PrologReader(std::string_view doc)
      : d_(reinterpret_cast<const unsigned char*>(doc.data())), n_(doc.size()) {
    if (n_ >= 3 && d_[0] == 0xEF && d_[1] == 0xBB && d_[2] == 0xBF) {
      pos_ = 3;
    } else if (n_ >= 2 && d_[0] == 0xFE && d_[1] == 0xFF) {
      pos_ = 2;
      width_ = 2;
      big_endian_ = true;
    } else if (n_ >= 2 && d_[0] == 0xFF && d_[1] == 0xFE) {
      pos_ = 2;
      width_ = 2;
    } else if (n_ >= 4 && d_[0] == 0 && d_[1] == '<' && d_[2] == 0 && d_[3] == '?') {
      width_ = 2;
      big_endian_ = true;
    } else if (n_ >= 4 && d_[0] == '<' && d_[1] == 0 && d_[2] == '?' && d_[3] == 0) {
      width_ = 2;
    }
  }

  // The code unit at offset i (in code units) from the current position, or -1 past the end.
  int peek(std::size_t i = 0) const {
    const std::size_t at = pos_ + i * width_;
    if (at + width_ > n_) return -1;
    if (width_ == 1) return d_[at];
    return big_endian_ ? (d_[at] << 8) | d_[at + 1] : d_[at] | (d_[at + 1] << 8);
  }
  void advance(std::size_t units) { pos_ = std::min(n_, pos_ + units * width_); }
  bool starts_with(std::string_view s) const {
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (peek(i) != static_cast<unsigned char>(s[i])) return false;
    }
    return true;
  }
  // Skips past the first occurrence of `s`; false if it does not occur.
  bool skip_past(std::string_view s) {
    while (peek() >= 0) {
      if (starts_with(s)) {
        advance(s.size());
        return true;
      }
      advance(1);
    }
    return false;
  }

 private:
  const unsigned char* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::size_t width_ = 1;
  bool big_endian_ = false;
};

}  // namespace

bool prolog_has_doctype(std::string_view doc) {
  PrologReader r(doc);
  for (;;) {
    const int c = r.peek();
    if (c < 0) return false;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      r.advance(1);
    } else if (r.starts_with("<?")) {
      if (!r.skip_past("?>")) return false;
    } else if (r.starts_with("<!--")) {
      if (!r.skip_past("-->")) return false;
    } else {
      return r.starts_with("<!DOCTYPE");
    }
  }
}

}  // namespace cjhub::validation::detail

// Small text helpers: UTF-8 <-> UTF-16 without the locale-dependent XMLString::transcode, capped
// issue messages, and the prolog check that classifies a refused DOCTYPE.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <cstring>
#include <optional>
#include <unordered_set>

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

// A view of the document as a sequence of code units, whatever the byte encoding: UTF-8 and other
// ASCII-compatible encodings (one byte per unit), UTF-16 and UTF-32 in either byte order, with or
// without a byte order mark.
class CodeUnitReader {
 public:
  explicit CodeUnitReader(std::string_view doc)
      : d_(reinterpret_cast<const unsigned char*>(doc.data())), n_(doc.size()) {
    const auto at = [&](std::size_t i) { return i < n_ ? d_[i] : -1; };
    if (at(0) == 0xEF && at(1) == 0xBB && at(2) == 0xBF) {
      pos_ = 3;
    } else if (at(0) == 0 && at(1) == 0 && at(2) == 0xFE && at(3) == 0xFF) {
      pos_ = width_ = 4;
      big_endian_ = true;
    } else if (at(0) == 0xFF && at(1) == 0xFE && at(2) == 0 && at(3) == 0) {
      pos_ = width_ = 4;
    } else if (at(0) == 0xFE && at(1) == 0xFF) {
      pos_ = width_ = 2;
      big_endian_ = true;
    } else if (at(0) == 0xFF && at(1) == 0xFE) {
      pos_ = width_ = 2;
    } else if (at(0) == 0 && at(1) == 0 && at(2) == 0 && at(3) == '<') {
      width_ = 4;
      big_endian_ = true;
    } else if (at(0) == '<' && at(1) == 0 && at(2) == 0 && at(3) == 0) {
      width_ = 4;
    } else if (at(0) == 0 && at(1) == '<') {
      width_ = 2;
      big_endian_ = true;
    } else if (at(0) == '<' && at(1) == 0) {
      width_ = 2;
    }
  }

  // The code unit at offset i (in code units) from the current position, or -1 past the end.
  long peek(std::size_t i = 0) const {
    const std::size_t at = pos_ + i * width_;
    if (at + width_ > n_) return -1;
    const unsigned char* p = d_ + at;
    switch (width_) {
      case 1: return p[0];
      case 2: return big_endian_ ? (p[0] << 8) | p[1] : p[0] | (p[1] << 8);
      default:
        return big_endian_ ? (static_cast<long>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]
                           : p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<long>(p[3]) << 24);
    }
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
    if (width_ == 1) {  // the common case, with memchr
      const unsigned char first = static_cast<unsigned char>(s[0]);
      while (pos_ < n_) {
        const void* hit = std::memchr(d_ + pos_, first, n_ - pos_);
        if (hit == nullptr) break;
        pos_ = static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - d_);
        if (starts_with(s)) {
          advance(s.size());
          return true;
        }
        ++pos_;
      }
      pos_ = n_;
      return false;
    }
    while (peek() >= 0) {
      if (starts_with(s)) {
        advance(s.size());
        return true;
      }
      advance(1);
    }
    return false;
  }
  // Advances to the next occurrence of code unit `c` (not past it); false at the end.
  bool skip_to(unsigned char c) {
    if (width_ == 1) {
      const void* hit = pos_ < n_ ? std::memchr(d_ + pos_, c, n_ - pos_) : nullptr;
      pos_ = hit == nullptr ? n_ : static_cast<std::size_t>(static_cast<const unsigned char*>(hit) - d_);
      return hit != nullptr;
    }
    while (peek() >= 0 && peek() != c) advance(1);
    return peek() >= 0;
  }
  std::size_t byte_pos() const { return pos_; }
  std::size_t width() const { return width_; }
  bool big_endian() const { return big_endian_; }
  bool has_bom() const { return start_of_units() > 0; }
  std::string_view bytes(std::size_t from, std::size_t to) const {
    return {reinterpret_cast<const char*>(d_) + from, to - from};
  }
  // The line (from 1) of the code unit at byte offset `at`.
  std::size_t line_at(std::size_t at) const {
    std::size_t p = start_of_units();
    if (width_ == 1) return 1 + static_cast<std::size_t>(std::count(d_ + p, d_ + std::min(at, n_), '\n'));
    CodeUnitReader u(*this);
    std::size_t line = 1;
    for (u.pos_ = p; u.pos_ < at; u.pos_ += width_) {
      if (u.peek() == '\n') ++line;
    }
    return line;
  }

 private:
  std::size_t start_of_units() const {
    const auto at = [&](std::size_t i) { return i < n_ ? d_[i] : -1; };
    if (at(0) == 0xEF && at(1) == 0xBB && at(2) == 0xBF) return 3;
    if (width_ == 1) return 0;
    const bool bom = width_ == 2 ? ((at(0) == 0xFE && at(1) == 0xFF) || (at(0) == 0xFF && at(1) == 0xFE))
                                 : ((at(0) == 0 && at(1) == 0 && at(2) == 0xFE && at(3) == 0xFF) ||
                                    (at(0) == 0xFF && at(1) == 0xFE && at(2) == 0 && at(3) == 0));
    return bom ? width_ : 0;
  }

  const unsigned char* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::size_t width_ = 1;
  bool big_endian_ = false;
};

bool is_space(long c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

bool prolog_has_doctype(std::string_view doc) {
  CodeUnitReader r(doc);
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

std::optional<PrecheckFinding> check_namespaces(std::string_view doc, std::size_t max_distinct,
                                                std::size_t max_uri_units) {
  if (doc.size() >= 4 && static_cast<unsigned char>(doc[0]) == 0x4C && static_cast<unsigned char>(doc[1]) == 0x6F &&
      static_cast<unsigned char>(doc[2]) == 0xA7 && static_cast<unsigned char>(doc[3]) == 0x94) {
    return PrecheckFinding{Verdict::malformed, 1,
                            "EBCDIC documents are not accepted: send UTF-8 (or UTF-16, UTF-32)"};
  }
  CodeUnitReader r(doc);
  std::unordered_set<std::string_view> seen;
  for (;;) {
    if (!r.skip_to('<')) return std::nullopt;
    if (r.starts_with("<!--")) {
      if (!r.skip_past("-->")) return std::nullopt;
      continue;
    }
    if (r.starts_with("<![CDATA[")) {
      if (!r.skip_past("]]>")) return std::nullopt;
      continue;
    }
    if (r.starts_with("<?")) {
      if (!r.skip_past("?>")) return std::nullopt;
      continue;
    }
    if (r.starts_with("<!")) {
      if (!r.skip_past(">")) return std::nullopt;
      continue;
    }
    // A start or end tag: walk its attributes up to '>'.
    r.advance(1);
    for (;;) {
      const long c = r.peek();
      if (c < 0) return std::nullopt;
      if (c == '>') {
        r.advance(1);
        break;
      }
      if (c == '"' || c == '\'') {
        r.advance(1);
        if (!r.skip_to(static_cast<unsigned char>(c))) return std::nullopt;
        r.advance(1);
        continue;
      }
      r.advance(1);
      if (!is_space(c) || !r.starts_with("xmlns")) continue;
      const long after = r.peek(5);
      if (after != ':' && after != '=' && !is_space(after)) continue;
      // A namespace declaration: xmlns[:prefix] = "URI"
      r.advance(5);
      while (r.peek() >= 0 && r.peek() != '=' && r.peek() != '>') r.advance(1);
      if (r.peek() != '=') continue;
      r.advance(1);
      while (is_space(r.peek())) r.advance(1);
      const long quote = r.peek();
      if (quote != '"' && quote != '\'') continue;
      r.advance(1);
      const std::size_t from = r.byte_pos();
      if (!r.skip_to(static_cast<unsigned char>(quote))) return std::nullopt;
      const std::size_t units = (r.byte_pos() - from) / r.width();
      if (units > max_uri_units) {
        return PrecheckFinding{Verdict::limit_exceeded, r.line_at(from),
                                "a namespace URI of " + std::to_string(units) + " characters (at most " +
                                    std::to_string(max_uri_units) + ")"};
      }
      seen.insert(r.bytes(from, r.byte_pos()));
      if (seen.size() > max_distinct) {
        return PrecheckFinding{Verdict::limit_exceeded, r.line_at(from),
                                "more than " + std::to_string(max_distinct) +
                                    " distinct namespace URIs declared in one document"};
      }
      r.advance(1);
    }
  }
}

std::optional<PrecheckFinding> check_declared_encoding(std::string_view doc) {
  CodeUnitReader r(doc);
  if (!r.starts_with("<?xml")) return std::nullopt;
  // The encoding pseudo-attribute of the declaration, if any (ASCII by definition).
  std::string decl;
  for (std::size_t i = 0; i < 200; ++i) {
    const long c = r.peek(i);
    if (c < 0 || c > 0x7E || c == '>') break;
    decl.push_back(static_cast<char>(c));
  }
  const auto at = decl.find("encoding");
  if (at == std::string::npos) return std::nullopt;
  auto q = decl.find_first_of("\"'", at);
  if (q == std::string::npos) return std::nullopt;
  const auto end = decl.find(decl[q], q + 1);
  if (end == std::string::npos) return std::nullopt;
  std::string name = decl.substr(q + 1, end - q - 1);
  for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto is = [&](std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
  };
  const bool says16 = is({"UTF-16", "UTF16", "UTF-16LE", "UTF-16BE", "UCS-2", "ISO-10646-UCS-2"});
  const bool says32 = is({"UTF-32", "UTF32", "UTF-32LE", "UTF-32BE", "UCS-4", "ISO-10646-UCS-4"});
  bool agrees = true;
  switch (r.width()) {
    case 1:
      // A UTF-8 byte order mark admits only UTF-8; without one, any byte-per-character encoding.
      agrees = r.has_bom() ? is({"UTF-8", "UTF8"}) : !says16 && !says32;
      break;
    case 2:
      agrees = says16 && !(r.big_endian() && name == "UTF-16LE") && !(!r.big_endian() && name == "UTF-16BE");
      break;
    default:
      agrees = says32 && !(r.big_endian() && name == "UTF-32LE") && !(!r.big_endian() && name == "UTF-32BE");
  }
  if (agrees) return std::nullopt;
  return PrecheckFinding{Verdict::malformed, 1,
                         "the XML declaration names the encoding " + name.substr(0, 40) +
                             " but the document's bytes are in another one (its byte order mark or its first "
                             "characters): a reader could decode it differently"};
}

namespace {

bool is_name_char(unsigned char c) {
  return c >= 0x80 || std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.' || c == ':';
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value of pseudo-attribute `name` in an XML declaration's text ("" when absent).
std::string declaration_value(std::string_view decl, std::string_view name) {
  for (auto p = decl.find(name); p != std::string_view::npos; p = decl.find(name, p + 1)) {
    auto q = p + name.size();
    while (q < decl.size() && is_space(decl[q])) ++q;
    if (q >= decl.size() || decl[q] != '=') continue;
    ++q;
    while (q < decl.size() && is_space(decl[q])) ++q;
    if (q >= decl.size() || (decl[q] != '"' && decl[q] != '\'')) continue;
    const auto end = decl.find(decl[q], q + 1);
    if (end == std::string_view::npos) return {};
    return std::string(decl.substr(q + 1, end - q - 1));
  }
  return {};
}

}  // namespace

std::optional<std::pair<std::string, std::string>> sniff_root(std::string_view doc) {
  std::size_t i = 0;
  if (doc.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  // UTF-16/32 (a zero byte or another byte order mark in the first four): not for this reader.
  for (std::size_t k = i; k < std::min<std::size_t>(doc.size(), i + 4); ++k) {
    if (doc[k] == '\0' || static_cast<unsigned char>(doc[k]) >= 0xFE) return std::nullopt;
  }
  const auto n = doc.size();
  // The prolog: the XML declaration, comments, processing instructions and white space.
  for (;;) {
    while (i < n && is_space(doc[i])) ++i;
    if (doc.compare(i, 5, "<?xml") == 0 && i + 5 < n && is_space(doc[i + 5])) {
      const auto end = doc.find("?>", i);
      if (end == std::string_view::npos) return std::nullopt;
      const auto enc = lower_ascii(declaration_value(doc.substr(i, end - i), "encoding"));
      if (!enc.empty() && enc != "utf-8" && enc != "utf8" && enc != "us-ascii" && enc != "ascii") return std::nullopt;
      i = end + 2;
    } else if (doc.compare(i, 2, "<?") == 0) {
      const auto end = doc.find("?>", i);
      if (end == std::string_view::npos) return std::nullopt;
      i = end + 2;
    } else if (doc.compare(i, 4, "<!--") == 0) {
      const auto end = doc.find("-->", i + 4);
      if (end == std::string_view::npos) return std::nullopt;
      i = end + 3;
    } else {
      break;
    }
  }
  if (i >= n || doc[i] != '<' || i + 1 >= n || !is_name_char(static_cast<unsigned char>(doc[i + 1]))) return std::nullopt;
  ++i;
  const auto name_start = i;
  while (i < n && is_name_char(static_cast<unsigned char>(doc[i]))) ++i;
  const std::string qname(doc.substr(name_start, i - name_start));
  // The root's attributes, for its namespace declarations.
  std::optional<std::string> default_ns;
  std::vector<std::pair<std::string, std::string>> prefixed;
  for (;;) {
    const auto before = i;
    while (i < n && is_space(doc[i])) ++i;
    if (i >= n) return std::nullopt;
    if (doc[i] == '>' || doc.compare(i, 2, "/>") == 0) break;
    if (i == before) return std::nullopt;  // attributes are separated by white space
    const auto attr_start = i;
    while (i < n && is_name_char(static_cast<unsigned char>(doc[i]))) ++i;
    const std::string_view attr = doc.substr(attr_start, i - attr_start);
    if (attr.empty()) return std::nullopt;
    while (i < n && is_space(doc[i])) ++i;
    if (i >= n || doc[i] != '=') return std::nullopt;
    ++i;
    while (i < n && is_space(doc[i])) ++i;
    if (i >= n || (doc[i] != '"' && doc[i] != '\'')) return std::nullopt;
    const auto end = doc.find(doc[i], i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view value = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (attr == "xmlns" || attr.substr(0, 6) == "xmlns:") {
      if (value.find_first_of("&<") != std::string_view::npos) return std::nullopt;
      if (attr == "xmlns") {
        default_ns = std::string(value);
      } else {
        prefixed.emplace_back(std::string(attr.substr(6)), std::string(value));
      }
    }
  }
  const auto colon = qname.find(':');
  if (colon == std::string::npos) return std::make_pair(default_ns.value_or(""), qname);
  const auto prefix = qname.substr(0, colon);
  for (const auto& [p, uri] : prefixed) {
    if (p == prefix) return std::make_pair(uri, qname.substr(colon + 1));
  }
  return std::nullopt;  // declared nowhere on the root: the parser will say so
}

}  // namespace cjhub::validation::detail

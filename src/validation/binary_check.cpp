#include "validation/binary_check.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "validation/internal.hpp"

namespace cjhub::validation::detail {

namespace {

constexpr std::size_t kMaxDeclaredText = 256;  // a format or size longer than this is not kept whole

bool starts_with(const XMLCh* s, std::u16string_view prefix) noexcept {
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (s[i] != prefix[i]) return false;  // also stops at the terminator
  }
  return true;
}

bool same(const XMLCh* s, std::u16string_view name) noexcept {
  return starts_with(s, name) && s[name.size()] == 0;
}

int base64_value(XMLCh c) noexcept {
  if (c >= u'A' && c <= u'Z') return c - u'A';
  if (c >= u'a' && c <= u'z') return c - u'a' + 26;
  if (c >= u'0' && c <= u'9') return c - u'0' + 52;
  if (c == u'+') return 62;
  if (c == u'/') return 63;
  return -1;
}

// The formats the hub recognises by their first bytes, and the names a declaration may use.
struct Format {
  const char* label;
  std::vector<std::string_view> names;
  std::vector<std::string_view> magics;
};
const std::vector<Format>& formats() {
  static const std::vector<Format> all = {
      {"a PDF document", {"application/pdf", "pdf"}, {std::string_view("%PDF-", 5)}},
      {"a TIFF image", {"image/tiff", "image/tif", "tiff", "tif"},
       {std::string_view("II*\0", 4), std::string_view("MM\0*", 4)}},
      {"a PNG image", {"image/png", "png"}, {std::string_view("\x89PNG\r\n\x1a\n", 8)}},
      {"a JPEG image", {"image/jpeg", "image/jpg", "jpeg", "jpg"}, {std::string_view("\xff\xd8\xff", 3)}},
  };
  return all;
}

const Format* format_named(std::string declared) {
  declared.erase(std::find(declared.begin(), declared.end(), ';'), declared.end());  // MIME parameters
  const auto first = declared.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return nullptr;
  declared = declared.substr(first, declared.find_last_not_of(" \t\r\n") - first + 1);
  std::transform(declared.begin(), declared.end(), declared.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& f : formats()) {
    if (std::find(f.names.begin(), f.names.end(), declared) != f.names.end()) return &f;
  }
  return nullptr;
}

bool looks_like(const Format& f, std::string_view head) {
  return std::any_of(f.magics.begin(), f.magics.end(), [&](std::string_view m) { return head.substr(0, m.size()) == m; });
}

}  // namespace

BinaryPart binary_part(const XMLCh* local) noexcept {
  if (local == nullptr || !starts_with(local, u"Binary")) return BinaryPart::none;
  const XMLCh* rest = local + 6;
  if (same(rest, u"Base64Object")) return BinaryPart::object;
  if (same(rest, u"FormatText")) return BinaryPart::format;
  if (same(rest, u"SizeValue")) return BinaryPart::size;
  return BinaryPart::none;
}

bool is_niem_core(const XMLCh* uri) noexcept {
  // http://release.niem.gov/niem/niem-core/<release>/
  return uri != nullptr && starts_with(uri, u"http://release.niem.gov/niem/niem-core/");
}

void BinaryChecks::reset() {
  open_.clear();
  part_ = BinaryPart::none;
  part_depth_ = 0;
}

void BinaryChecks::start_part(std::size_t depth, BinaryPart part) {
  if (depth < 2) return;
  if (open_.empty() || open_.back().depth != depth - 1) {
    open_.emplace_back();
    open_.back().depth = depth - 1;
  }
  part_ = part;
  part_depth_ = depth;
  if (part == BinaryPart::object) open_.back().has_object = true;
}

void BinaryChecks::characters(std::size_t depth, const XMLCh* chars, std::size_t n) {
  if (!reading(depth) || open_.empty()) return;
  Binary& b = open_.back();
  if (part_ == BinaryPart::object) {
    for (std::size_t i = 0; i < n; ++i) {
      const XMLCh c = chars[i];
      if (c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) continue;
      ++b.chars;
      if (c == u'=') {
        ++b.pads;
        continue;
      }
      if (b.head_n >= b.head.size()) continue;
      const int v = base64_value(c);
      if (v < 0) continue;  // the schema's base64Binary check reports it
      b.quad = (b.quad << 6) | static_cast<std::uint32_t>(v);
      if (++b.quad_n == 4) {
        for (int k = 2; k >= 0 && b.head_n < b.head.size(); --k) {
          b.head[b.head_n++] = static_cast<unsigned char>((b.quad >> (8 * k)) & 0xFF);
        }
        b.quad = 0;
        b.quad_n = 0;
      }
    }
    return;
  }
  std::string& into = part_ == BinaryPart::format ? b.format : b.size;
  if (into.size() < kMaxDeclaredText) append_utf8(into, chars, std::min(n, kMaxDeclaredText - into.size()));
}

std::optional<std::string> BinaryChecks::end(std::size_t depth) {
  if (part_ != BinaryPart::none && depth == part_depth_) {
    part_ = BinaryPart::none;
    return std::nullopt;
  }
  if (open_.empty() || open_.back().depth != depth) return std::nullopt;
  const Binary b = std::move(open_.back());
  open_.pop_back();
  if (!b.has_object || b.chars % 4 != 0 || b.pads > 2) return std::nullopt;  // nothing to hold it to
  const std::uint64_t bytes = b.chars / 4 * 3 - b.pads;
  std::string why;
  if (!b.format.empty()) {
    const std::string_view head(reinterpret_cast<const char*>(b.head.data()), std::min<std::size_t>(b.head_n, bytes));
    if (const Format* declared = format_named(b.format); declared != nullptr && !looks_like(*declared, head)) {
      const auto actual = std::find_if(formats().begin(), formats().end(), [&](const Format& f) { return looks_like(f, head); });
      why = fmt::format("nc:BinaryFormatText says {} but the content is not {} ({})", capped_message(b.format, 64),
                        declared->label, actual != formats().end() ? std::string("it is ") + actual->label
                                                                   : std::string("its first bytes are no format the hub knows"));
    }
  }
  if (!b.size.empty()) {
    char* end = nullptr;
    const double kb = std::strtod(b.size.c_str(), &end);
    const double actual_kb = static_cast<double>(bytes) / 1024.0;
    // NIEM counts kilobytes: a declaration off by a whole kilobyte or more is not a rounding.
    if (end != b.size.c_str() && std::isfinite(kb) && std::fabs(kb * 1024.0 - static_cast<double>(bytes)) >= 1024.0) {
      if (!why.empty()) why += "; ";
      why += fmt::format("nc:BinarySizeValue says {} KB but the content is {:.1f} KB ({} bytes; NIEM counts kilobytes)",
                         capped_message(b.size, 32), actual_kb, bytes);
    }
  }
  if (why.empty()) return std::nullopt;
  return why;
}

}  // namespace cjhub::validation::detail

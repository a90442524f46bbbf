// Arrest packets with attachments (nc:Attachment: base64 content, declared format and size) for
// the tests and the benchmark: the forms are made-up bytes that start as a PDF or TIFF would.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cjhub::test {

// `bytes` bytes of a form of `kind` ("pdf" or "tiff"; anything else: no known signature),
// pseudo-random after the signature (the same for the same seed).
inline std::string fake_form(std::string_view kind, std::size_t bytes, std::uint32_t seed = 1) {
  std::string out;
  if (kind == "pdf") out = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
  if (kind == "tiff") out = std::string("II*\0\x08\0\0\0", 8);
  out.resize(std::max(bytes, out.size()));
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = kind == "pdf" ? 15 : kind == "tiff" ? 8 : 0; i < out.size(); ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xFF);
  }
  out.resize(bytes);
  return out;
}

// Base64 in lines of 76 characters, as MIME writes it.
inline std::string base64_lines(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(in.size() / 3 * 4 + in.size() / 57 + 8);
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t a = static_cast<unsigned char>(in[i]);
    const std::uint32_t b = i + 1 < in.size() ? static_cast<unsigned char>(in[i + 1]) : 0;
    const std::uint32_t c = i + 2 < in.size() ? static_cast<unsigned char>(in[i + 2]) : 0;
    const std::uint32_t v = (a << 16) | (b << 8) | c;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? abc[v & 63] : '=';
    if ((line += 4) == 76) {
      out += '\n';
      line = 0;
    }
  }
  return out;
}

// One nc:Attachment; an empty `format` or `size_kb` leaves that declaration out.
inline std::string attachment_xml(std::string_view content, std::string_view format, std::string_view size_kb,
                                  std::string_view description = "Criminal justice form") {
  std::string x = "  <nc:Attachment>\n    <nc:BinaryBase64Object>\n";
  x += base64_lines(content);
  x += "\n    </nc:BinaryBase64Object>\n    <nc:BinaryDescriptionText>";
  x += description;
  x += "</nc:BinaryDescriptionText>\n";
  if (!format.empty()) x += "    <nc:BinaryFormatText>" + std::string(format) + "</nc:BinaryFormatText>\n";
  if (!size_kb.empty()) x += "    <nc:BinarySizeValue>" + std::string(size_kb) + "</nc:BinarySizeValue>\n";
  x += "  </nc:Attachment>\n";
  return x;
}

// The size of `content` as nc:BinarySizeValue states it: kilobytes, one decimal.
inline std::string size_kb(std::string_view content) {
  const auto tenths = (content.size() * 10 + 512) / 1024;
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10);
}

// An arrest packet with these attachments after its j:Arrest (before the closing root tag).
inline std::string with_attachments(std::string packet, const std::vector<std::string>& attachments) {
  std::string all;
  for (const auto& a : attachments) all += a;
  const auto at = packet.rfind("</ciss:ArrestPacket>");
  if (at == std::string::npos) return packet;
  packet.insert(at, all);
  return packet;
}

}  // namespace cjhub::test

// The declared size and format of NIEM binary objects (nc:BinaryType and its extensions, such as
// nc:Attachment, in any NIEM Core release) checked against their content inside the validating
// pass, without decoding the content into memory: the base64 text is counted as it streams by and
// only its first bytes are decoded, to recognise the format. Internal to validation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>
#include <xercesc/util/XercesDefs.hpp>

namespace cjhub::validation::detail {

// The parts of a binary the check reads: nc:BinaryBase64Object, nc:BinaryFormatText and
// nc:BinarySizeValue (kilobytes, as NIEM defines it).
enum class BinaryPart { none, object, format, size };
// Which part an element with this local name would be (most elements cost one compare); it is one
// when its namespace is NIEM Core, of any release (is_niem_core).
BinaryPart binary_part(const XMLCh* local) noexcept;
bool is_niem_core(const XMLCh* uri) noexcept;

class BinaryChecks {
 public:
  void reset();
  // A part starts at `depth`: its binary is the element at depth - 1.
  void start_part(std::size_t depth, BinaryPart part);
  // Text of the element at `depth` (only a part's text is kept or counted).
  void characters(std::size_t depth, const XMLCh* chars, std::size_t n);
  bool reading(std::size_t depth) const noexcept { return part_ != BinaryPart::none && depth == part_depth_; }
  // The element at `depth` ends. When it is a binary: what its declarations say that its content
  // contradicts (nullopt: nothing).
  std::optional<std::string> end(std::size_t depth);

 private:
  struct Binary {
    std::size_t depth = 0;
    bool has_object = false;
    std::uint64_t chars = 0;  // base64 characters (not spaces), '=' included
    unsigned pads = 0;
    std::array<unsigned char, 12> head{};  // the first bytes of the content
    std::size_t head_n = 0;
    std::uint32_t quad = 0;  // base64 characters of the group being decoded into `head`
    unsigned quad_n = 0;
    std::string format, size;  // the declarations' text (bounded)
  };
  std::vector<Binary> open_;  // binaries being read, innermost last
  BinaryPart part_ = BinaryPart::none;
  std::size_t part_depth_ = 0;
};

}  // namespace cjhub::validation::detail

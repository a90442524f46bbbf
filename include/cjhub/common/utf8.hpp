// UTF-8 checks for text that comes from outside (peers, documents) and goes where only valid
// UTF-8 is allowed (PostgreSQL text, JSON).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cjhub {

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when there is none (or `s` is empty).
std::size_t utf8_sequence_length(std::string_view s) noexcept;

// `s` as valid UTF-8 of at most `max_bytes` bytes: every byte that is not part of a valid
// sequence becomes U+FFFD, and a longer text is cut on a character boundary and ends in "...".
std::string utf8_capped(std::string_view s, std::size_t max_bytes);

}  // namespace cjhub

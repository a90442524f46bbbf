// Text written into an XML document the hub makes (an acknowledgement, a template's values).
#pragma once

#include <string>
#include <string_view>

namespace cjhub {

// Markup characters escaped (& < > " '), characters XML 1.0 forbids (controls other than tab,
// line feed and carriage return) dropped: safe as element text and as an attribute value.
std::string xml_text(std::string_view v);

}  // namespace cjhub

#include "cjhub/intake/template.hpp"

#include "cjhub/common/xml_text.hpp"

namespace cjhub::intake {

std::string fill_template(std::string_view text, const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size() + 256);
  for (;;) {
    const auto open = text.find("{{");
    if (open == std::string_view::npos) break;
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) throw TemplateError("a {{ without its }}");
    const std::string name(text.substr(open + 2, close - open - 2));
    const auto it = values.find(name);
    if (it == values.end()) throw TemplateError("no value for the placeholder {{" + name + "}}");
    out.append(text.substr(0, open));
    out += xml_text(it->second);
    text.remove_prefix(close + 2);
  }
  out.append(text);
  return out;
}

std::map<std::string, std::string> sandbox_court_values(const std::string& message_id, const std::string& case_key,
                                                        const std::string& court_ori, const std::string& requested_by,
                                                        const std::string& now_rfc3339) {
  return {{"message_id", message_id}, {"case_key", case_key},   {"court_ori", court_ori},
          {"requested_by", requested_by}, {"now", now_rfc3339}, {"today", now_rfc3339.substr(0, 10)}};
}

}  // namespace cjhub::intake

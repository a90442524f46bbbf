// Documents made from templates (the sandbox court's case updates and erasure notices): every
// {{name}} in the text is replaced by its value, escaped for XML text and attributes (characters XML forbids dropped). A template is
// configuration; a placeholder without a value is an error naming it, so a document is never sent
// with a hole in it.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cjhub::intake {

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string fill_template(std::string_view text, const std::map<std::string, std::string>& values);

// The values the sandbox court fills in (docs/operations.md): message_id, case_key, court_ori,
// requested_by, now (RFC 3339, UTC) and today (its date). One list, for the court and for
// `check-config`, which fills every template in the same way.
std::map<std::string, std::string> sandbox_court_values(const std::string& message_id, const std::string& case_key,
                                                        const std::string& court_ori, const std::string& requested_by,
                                                        const std::string& now_rfc3339);

}  // namespace cjhub::intake

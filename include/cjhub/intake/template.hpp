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

}  // namespace cjhub::intake

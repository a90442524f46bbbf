#include "api/problem_docs.hpp"

#include <cmark.h>

#include <cstdlib>
#include <memory>

namespace cjhub::api {

namespace {

std::string to_html(std::string_view markdown) {
  // CMARK_OPT_SAFE is the default in cmark 0.30: raw HTML and dangerous URLs are not passed through.
  std::unique_ptr<char, decltype(&std::free)> html(
      cmark_markdown_to_html(markdown.data(), markdown.size(), CMARK_OPT_DEFAULT), &std::free);
  return html ? std::string(html.get()) : std::string();
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string page(std::string_view title, const std::string& body) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>";
  out += escape(title);
  out += "</title></head><body><main>\n";
  out += body;
  out += "</main></body></html>\n";
  return out;
}

std::string section_html(const ProblemDocSection& s) {
  return "<section id=\"" + escape(s.slug) + "\"><h2>" + escape(s.slug) + "</h2>\n" + to_html(s.markdown) +
         "</section>\n";
}

const ProblemDocs& docs() {
  static const ProblemDocs d = parse_problem_docs(problems_markdown());
  return d;
}

}  // namespace

ProblemDocs parse_problem_docs(std::string_view markdown) {
  ProblemDocs out;
  std::string* current = &out.introduction;
  std::size_t pos = 0;
  while (pos < markdown.size()) {
    auto end = markdown.find('\n', pos);
    if (end == std::string_view::npos) end = markdown.size();
    const auto line = markdown.substr(pos, end - pos);
    if (line.starts_with("## ")) {
      out.sections.push_back({std::string(line.substr(3)), {}});
      current = &out.sections.back().markdown;
    } else {
      current->append(line);
      current->push_back('\n');
    }
    pos = end + 1;
  }
  return out;
}

std::string problems_page_html() {
  static const std::string html = [] {
    std::string body = to_html(docs().introduction);
    for (const auto& s : docs().sections) body += section_html(s);
    return page("cjhub problem types", body);
  }();
  return html;
}

std::optional<std::string> problem_page_html(std::string_view slug) {
  for (const auto& s : docs().sections) {
    if (s.slug == slug) {
      return page("cjhub problem type " + s.slug,
                  section_html(s) + "<p><a href=\"../problems#" + escape(s.slug) + "\">All problem types</a></p>\n");
    }
  }
  return std::nullopt;
}

}  // namespace cjhub::api

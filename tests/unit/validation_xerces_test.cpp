// Pins down what the installed Xerces-C does with XERCES_DISABLE_DTD (Debian's CVE-2016-4463 /
// CVE-2018-1311 patch), independently of cjhub's validator. If the library is replaced by one
// without the patch, ValidationXerces.DisableDtdMakesAnyDoctypeFatal fails: the validator then
// relies on its second line of defence alone (LexicalHandler::startDTD), which
// ValidationSecurity.SecondLineOfDefenceWithoutTheEnvironmentVariable covers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/sax/SAXException.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/sax2/DefaultHandler.hpp>
#include <xercesc/sax2/SAX2XMLReader.hpp>
#include <xercesc/sax2/XMLReaderFactory.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLUni.hpp>

namespace {

namespace xc = xercesc;

struct Result {
  int fatal_errors = 0;
  std::size_t fatal_line = 0;
  std::string fatal_message;
  bool saw_dtd = false;
  std::u16string text;
};

struct Recorder final : xc::DefaultHandler, Result {
  void fatalError(const xc::SAXParseException& e) override {
    if (fatal_errors++ == 0) {
      fatal_line = static_cast<std::size_t>(e.getLineNumber());
      for (const XMLCh* p = e.getMessage(); p != nullptr && *p != 0; ++p) {
        fatal_message.push_back(*p < 0x80 ? static_cast<char>(*p) : '?');
      }
    }
  }
  void startDTD(const XMLCh* const, const XMLCh* const, const XMLCh* const) override {
    saw_dtd = true;
  }
  void characters(const XMLCh* const chars, const XMLSize_t length) override {
    text.append(reinterpret_cast<const char16_t*>(chars), length);
  }
};

// A plain, non-validating SAX2 parse with Xerces defaults except for the handlers.
Result plain_parse(const std::string& doc) {
  Recorder r;
  std::unique_ptr<xc::SAX2XMLReader> reader(xc::XMLReaderFactory::createXMLReader());
  reader->setFeature(xc::XMLUni::fgSAX2CoreValidation, false);
  reader->setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
  reader->setContentHandler(&r);
  reader->setErrorHandler(&r);
  reader->setLexicalHandler(&r);
  xc::MemBufInputSource src(reinterpret_cast<const XMLByte*>(doc.data()), doc.size(), "doc");
  try {
    reader->parse(src);
  } catch (const xc::XMLException&) {
    ADD_FAILURE() << "XMLException";
  } catch (const xc::SAXException&) {
    ADD_FAILURE() << "SAXException";
  } catch (...) {
    ADD_FAILURE() << "unknown exception";
  }
  return static_cast<const Result&>(r);
}

class EnvOverride {
 public:
  EnvOverride(const char* name, const char* value) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
    if (value != nullptr)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~EnvOverride() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const std::string kDoc =
    "<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY e \"expanded\">]>\n<a>&e;</a>";

TEST(ValidationXerces, DisableDtdMakesAnyDoctypeFatal) {
  EnvOverride env("XERCES_DISABLE_DTD", "1");
  const Result r = plain_parse(kDoc);
  EXPECT_EQ(r.fatal_errors, 1) << "this Xerces ignores XERCES_DISABLE_DTD (no Debian patch?)";
  EXPECT_EQ(r.fatal_line, 2u);                               // at the DOCTYPE
  EXPECT_EQ(r.fatal_message, "invalid document structure");  // a generic message, not "DTD"
  EXPECT_FALSE(r.saw_dtd);  // refused before the LexicalHandler hears of it
  EXPECT_TRUE(r.text.empty());
}

TEST(ValidationXerces, DisableDtdIsReadAtEachDoctypeAndMustBeExactlyOne) {
  {
    EnvOverride env("XERCES_DISABLE_DTD", nullptr);
    const Result r = plain_parse(kDoc);
    EXPECT_EQ(r.fatal_errors, 0) << r.fatal_message;
    EXPECT_TRUE(r.saw_dtd);
    EXPECT_EQ(r.text, u"expanded");
  }
  {
    EnvOverride env("XERCES_DISABLE_DTD", "true");  // only "1" counts
    const Result r = plain_parse(kDoc);
    EXPECT_EQ(r.fatal_errors, 0);
    EXPECT_TRUE(r.saw_dtd);
  }
}

}  // namespace

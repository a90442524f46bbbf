// Unit tests of the validation module: verdicts, line numbers, routing keys, hostile input,
// parser reuse, threads, schema loading, the NIBRS corpus and the CISS schemas.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cjhub/validation/schema_holder.hpp>
#include <cjhub/validation/validator.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/test_env.hpp"

namespace cjhub::validation {
namespace {

namespace fs = std::filesystem;

const std::string kT = "urn:cjhub:test:t";
const std::string kU = "urn:cjhub:test:u";
const std::string kXsi = "http://www.w3.org/2001/XMLSchema-instance";

fs::path vdir() { return test::data_dir() / "validation"; }

MessageTypeSpec message_type() {
  MessageTypeSpec t;
  t.name = "TestMessage";
  t.root_namespace = kT;
  t.root_local_name = "Message";
  t.schema_files = {(vdir() / "t.xsd").string()};
  t.namespaces = {{"t", kT}};
  t.keys = {
      {"message_id", "t:Message/t:MessageID"},
      {"case_key", "t:Message/t:Case/t:CaseKey"},
      {"code", "t:Message/t:Code"},
      {"charge_id", "t:Message/t:Charge/t:ChargeID"},
      {"erased", "t:Message/t:Charge/t:Erased"},
      {"court", "t:Message/t:Case/t:Court"},
      {"note", "t:Message/t:Note"},
  };
  return t;
}

// A second type from the same file (same namespace, other root).
MessageTypeSpec receipt_type() {
  MessageTypeSpec t;
  t.name = "TestReceipt";
  t.root_namespace = kT;
  t.root_local_name = "Receipt";
  t.schema_files = {(vdir() / "t.xsd").string()};
  t.namespaces = {{"r", kT}};
  t.keys = {{"message_id", "r:Receipt/r:MessageID"}};
  return t;
}

MessageTypeSpec ack_type() {
  MessageTypeSpec t;
  t.name = "TestAck";
  t.root_namespace = kU;
  t.root_local_name = "Ack";
  t.schema_files = {(vdir() / "u.xsd").string()};
  t.namespaces = {{"u", kU}};
  t.keys = {{"ref", "u:Ack/u:Ref"}};
  return t;
}

std::shared_ptr<const SchemaSet> load_test_types(Limits limits = {}) {
  return SchemaSet::load({message_type(), receipt_type(), ack_type()}, limits);
}

// The body of a t:Message; pieces can be replaced to make it invalid.
struct MessageParts {
  std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string root_attrs = " version=\"1\"";
  std::string id = "  <t:MessageID>MSG-1</t:MessageID>\n";
  std::string case_ = "  <t:Case><t:CaseKey>CASE-1</t:CaseKey></t:Case>\n";
  std::string filed = "  <t:Filed>2024-05-17</t:Filed>\n";
  std::string code = "  <t:Code>ARREST</t:Code>\n";
  std::string charges =
      "  <t:Charge>\n"
      "    <t:ChargeID>CH-1</t:ChargeID>\n"
      "    <t:Statute>PC 459</t:Statute>\n"
      "    <t:Erased>false</t:Erased>\n"
      "  </t:Charge>\n";
  std::string tail;

  std::string str() const {
    return decl + "<t:Message xmlns:t=\"" + kT + "\"" + root_attrs + ">\n" + id + case_ + filed +
           code + charges + tail + "</t:Message>\n";
  }
};

std::string valid_doc(int n) {
  MessageParts p;
  p.id = "  <t:MessageID>MSG-" + std::to_string(n) + "</t:MessageID>\n";
  p.case_ = "  <t:Case><t:CaseKey>CASE-" + std::to_string(n) + "</t:CaseKey></t:Case>\n";
  return p.str();
}

// 1-based line of the first occurrence of `needle` (0 if absent).
std::size_t line_of(const std::string& doc, const std::string& needle, std::size_t from = 0) {
  const auto pos = doc.find(needle, from);
  if (pos == std::string::npos) return 0;
  return 1 + static_cast<std::size_t>(std::count(doc.begin(), doc.begin() + pos, '\n'));
}

std::string describe(const Outcome& o) {
  std::string s = std::string(to_string(o.verdict)) + " type='" + o.type_name + "'";
  for (const auto& i : o.issues) {
    s += "\n  " + std::to_string(i.line) + ":" + std::to_string(i.column) + " " + i.message;
  }
  return s;
}

bool mentions(const Outcome& o, const std::string& needle) {
  for (const auto& i : o.issues) {
    if (i.message.find(needle) != std::string::npos) return true;
  }
  for (const auto& [k, vs] : o.keys) {
    for (const auto& v : vs) {
      if (v.find(needle) != std::string::npos) return true;
    }
  }
  return false;
}

std::string to_utf16le_with_bom(const std::string& ascii_or_utf8) {
  // The test documents are ASCII except for a few Latin-1 letters; decode UTF-8 properly.
  std::u16string u;
  for (std::size_t i = 0; i < ascii_or_utf8.size();) {
    const auto c = static_cast<unsigned char>(ascii_or_utf8[i]);
    if (c < 0x80) {
      u.push_back(c);
      i += 1;
    } else {  // two-byte sequences only in these tests
      u.push_back(static_cast<char16_t>(((c & 0x1F) << 6) |
                                        (static_cast<unsigned char>(ascii_or_utf8[i + 1]) & 0x3F)));
      i += 2;
    }
  }
  std::string out = "\xFF\xFE";
  for (char16_t ch : u) {
    out.push_back(static_cast<char>(ch & 0xFF));
    out.push_back(static_cast<char>(ch >> 8));
  }
  return out;
}

class ValidationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { schemas_ = load_test_types(); }
  static void TearDownTestSuite() { schemas_.reset(); }

  Outcome check(std::string_view doc) { return Validator::for_this_thread(schemas_).validate(doc); }

  static std::shared_ptr<const SchemaSet> schemas_;
};
std::shared_ptr<const SchemaSet> ValidationTest::schemas_;

// --- 1. valid documents and routing keys
// ----------------------------------------------------------

using ValidationValid = ValidationTest;

TEST_F(ValidationValid, ValidMessageIsOkWithKeysInDocumentOrder) {
  const auto doc = test::read_file(vdir() / "valid_message.xml");
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::ok) << describe(o);
  EXPECT_TRUE(o.ok());
  EXPECT_TRUE(o.issues.empty());
  EXPECT_EQ(o.type_name, "TestMessage");
  // Whitespace around the value (including newlines) is trimmed.
  EXPECT_EQ(o.keys.at("message_id"), std::vector<std::string>{"MSG-0001"});
  EXPECT_EQ(o.first("message_id"), "MSG-0001");
  EXPECT_EQ(o.first("case_key"), "CR-2024-000123");
  EXPECT_EQ(o.first("code"), "ARREST");
  EXPECT_EQ(o.first("court"), "Superior & District");  // entity reference in the value
  // Repeated key: every match in document order (CDATA and character references included).
  EXPECT_EQ(o.keys.at("charge_id"), (std::vector<std::string>{"CH-1", "CH-2", "CH-3"}));
  EXPECT_EQ(o.keys.at("erased"), (std::vector<std::string>{"false", "true", "1"}));
  // t:Charge/t:MessageID has the same local name but another path: not a message_id.
  EXPECT_FALSE(mentions(o, "NOT-A-MESSAGE-ID"));
  // Only the element's own text, not its children's.
  EXPECT_EQ(o.first("note"), "free text");
  EXPECT_EQ(o.first("no_such_key"), "");
}

TEST_F(ValidationValid, AbsentOptionalKeyIsAbsent) {
  const Outcome o = check(valid_doc(7));
  ASSERT_TRUE(o.ok()) << describe(o);
  EXPECT_EQ(o.first("message_id"), "MSG-7");
  EXPECT_EQ(o.keys.count("court"), 0u);
  EXPECT_EQ(o.keys.count("note"), 0u);
}

TEST_F(ValidationValid, SecondTypeFromTheSameFileAndOtherNamespace) {
  const Outcome r =
      check("<t:Receipt xmlns:t='" + kT + "'><t:MessageID>R-9</t:MessageID></t:Receipt>");
  ASSERT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.type_name, "TestReceipt");
  EXPECT_EQ(r.first("message_id"), "R-9");

  const Outcome a = check("<Ack xmlns='" + kU + "'><Ref> A-1 </Ref></Ack>");  // default namespace
  ASSERT_TRUE(a.ok()) << describe(a);
  EXPECT_EQ(a.type_name, "TestAck");
  EXPECT_EQ(a.first("ref"), "A-1");
}

TEST_F(ValidationValid, NonAsciiKeyValueIsUtf8) {
  MessageParts p;
  p.case_ = "  <t:Case><t:CaseKey>K\xC3\xA4se-\xC3\x96</t:CaseKey></t:Case>\n";
  const Outcome o = check(p.str());
  ASSERT_TRUE(o.ok()) << describe(o);
  EXPECT_EQ(o.first("case_key"), "K\xC3\xA4se-\xC3\x96");
}

TEST(ValidationBasics, VerdictNames) {
  EXPECT_STREQ(to_string(Verdict::ok), "ok");
  EXPECT_STREQ(to_string(Verdict::malformed), "malformed");
  EXPECT_STREQ(to_string(Verdict::forbidden_markup), "forbidden_markup");
  EXPECT_STREQ(to_string(Verdict::limit_exceeded), "limit_exceeded");
  EXPECT_STREQ(to_string(Verdict::unknown_type), "unknown_type");
  EXPECT_STREQ(to_string(Verdict::invalid), "invalid");
  Outcome o;
  o.keys["a"] = {"1", "2"};
  o.keys["empty"] = {};
  EXPECT_EQ(o.first("a"), "1");
  EXPECT_EQ(o.first("empty"), "");
  EXPECT_EQ(o.first("b"), "");
}

// --- 2. schema-invalid documents
// ------------------------------------------------------------------

using ValidationInvalid = ValidationTest;

TEST_F(ValidationInvalid, ElementOutOfOrderReportsItsLine) {
  MessageParts p;
  std::swap(p.filed, p.code);  // Code now comes before Filed
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  ASSERT_FALSE(o.issues.empty());
  EXPECT_EQ(o.issues[0].line, line_of(doc, "<t:Code>")) << describe(o);
  EXPECT_GT(o.issues[0].column, 0u);
  EXPECT_EQ(o.type_name, "TestMessage");
}

TEST_F(ValidationInvalid, MissingRequiredElement) {
  MessageParts p;
  p.charges.clear();  // at least one Charge is required
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "</t:Message>")) << describe(o);

  MessageParts q;
  q.filed.clear();  // Code appears where Filed is required
  const auto doc2 = q.str();
  const Outcome o2 = check(doc2);
  ASSERT_EQ(o2.verdict, Verdict::invalid) << describe(o2);
  EXPECT_EQ(o2.issues.at(0).line, line_of(doc2, "<t:Code>")) << describe(o2);
}

TEST_F(ValidationInvalid, BadDate) {
  MessageParts p;
  p.filed = "  <t:Filed>2024-02-30</t:Filed>\n";
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "<t:Filed>")) << describe(o);
}

TEST_F(ValidationInvalid, BadEnumeration) {
  MessageParts p;
  p.code = "\n\n  <t:Code>FELONY</t:Code>\n";
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "<t:Code>")) << describe(o);
}

TEST_F(ValidationInvalid, BadBooleanInRepeatedElement) {
  MessageParts p;
  p.charges +=
      "  <t:Charge>\n    <t:ChargeID>CH-2</t:ChargeID>\n    <t:Statute>X</t:Statute>\n"
      "    <t:Erased>maybe</t:Erased>\n  </t:Charge>\n";
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "maybe")) << describe(o);
}

TEST_F(ValidationInvalid, UndeclaredAttributeOnRegisteredRootIsInvalidNotUnknown) {
  MessageParts p;
  p.root_attrs = " bogus=\"1\"";
  const Outcome o = check(p.str());
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.type_name, "TestMessage");
}

TEST_F(ValidationInvalid, UndeclaredChildElement) {
  MessageParts p;
  p.tail = "  <t:Surprise/>\n";
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "<t:Surprise/>"));
}

// --- 3. unknown message types
// ---------------------------------------------------------------------

using ValidationUnknownType = ValidationTest;

TEST_F(ValidationUnknownType, OtherNamespace) {
  const Outcome o =
      check("<?xml version='1.0'?>\n<x:Message xmlns:x='urn:other'><x:A/></x:Message>");
  ASSERT_EQ(o.verdict, Verdict::unknown_type) << describe(o);
  ASSERT_EQ(o.issues.size(), 1u);
  EXPECT_NE(o.issues[0].message.find("{urn:other}Message"), std::string::npos) << describe(o);
  EXPECT_EQ(o.issues[0].line, 2u);
  EXPECT_TRUE(o.type_name.empty());
}

TEST_F(ValidationUnknownType, RegisteredNamespaceUndeclaredLocalName) {
  const Outcome o = check("<t:Nope xmlns:t='" + kT + "'/>");
  ASSERT_EQ(o.verdict, Verdict::unknown_type) << describe(o);
  EXPECT_NE(o.issues.at(0).message.find("{" + kT + "}Nope"), std::string::npos) << describe(o);
}

TEST_F(ValidationUnknownType, DeclaredButNotRegisteredRoot) {
  // t:Other is a global element of t.xsd (valid by the schema) but not a message type.
  const Outcome o = check("<t:Other xmlns:t='" + kT + "'>x</t:Other>");
  ASSERT_EQ(o.verdict, Verdict::unknown_type) << describe(o);
  EXPECT_NE(o.issues.at(0).message.find("{" + kT + "}Other"), std::string::npos);
}

TEST_F(ValidationUnknownType, NoNamespace) {
  const Outcome o = check("<Message><MessageID>1</MessageID></Message>");
  ASSERT_EQ(o.verdict, Verdict::unknown_type) << describe(o);
  EXPECT_NE(o.issues.at(0).message.find("{}Message"), std::string::npos) << describe(o);
}

// --- 4. DTDs, entities, XXE, entity bombs
// ---------------------------------------------------------

using ValidationSecurity = ValidationTest;

const std::string kBody = valid_doc(1).substr(valid_doc(1).find("<t:Message"));

TEST_F(ValidationSecurity, XercesDisableDtdIsSet) {
  const char* v = std::getenv("XERCES_DISABLE_DTD");
  ASSERT_NE(v, nullptr);
  EXPECT_STREQ(v, "1");
}

TEST_F(ValidationSecurity, DoctypeWithHarmlessInternalSubset) {
  const std::string doc =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message [\n  <!ELEMENT t:Message ANY>\n]>\n" + kBody;
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, 2u);
}

TEST_F(ValidationSecurity, DoctypeWithoutSubsetAfterComment) {
  const std::string doc = "<!-- hello -->\n<?pi x?>\n<!DOCTYPE t:Message>\n" + kBody;
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
}

TEST_F(ValidationSecurity, ExternalDtdSystemId) {
  const std::string doc =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message SYSTEM \"file:///etc/passwd\">\n" + kBody;
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  EXPECT_FALSE(mentions(o, "root:")) << describe(o);
}

TEST_F(ValidationSecurity, ExternalEntityXxe) {
  MessageParts p;
  p.decl =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message [\n"
      "  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n";
  p.id = "  <t:MessageID>&xxe;</t:MessageID>\n";
  const Outcome o = check(p.str());
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  EXPECT_FALSE(mentions(o, "root:")) << describe(o);
  EXPECT_FALSE(mentions(o, "/bin/")) << describe(o);
  EXPECT_TRUE(o.keys.empty());
}

TEST_F(ValidationSecurity, EntityReferenceWithoutDoctype) {
  MessageParts p;
  p.id = "  <t:MessageID>&xxe;</t:MessageID>\n";
  const Outcome o = check(p.str());
  EXPECT_EQ(o.verdict, Verdict::malformed) << describe(o);  // undeclared entity
  EXPECT_EQ(o.issues.at(0).line, 3u);
}

TEST_F(ValidationSecurity, ParameterEntities) {
  const std::string doc =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message [\n"
      "  <!ENTITY % remote SYSTEM \"file:///etc/passwd\">\n  %remote;\n"
      "  <!ENTITY % local \"<!ENTITY leak 'x'>\">\n  %local;\n]>\n" +
      kBody;
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  EXPECT_FALSE(mentions(o, "root:"));
}

std::string billion_laughs() {
  std::string d = "<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message [\n  <!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    d += "  <!ENTITY lol" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; ++j)
      d += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    d += "\">\n";
  }
  d += "]>\n<t:Message xmlns:t=\"" + kT + "\"><t:MessageID>&lol9;</t:MessageID></t:Message>\n";
  return d;
}

TEST_F(ValidationSecurity, BillionLaughsIsRefusedQuickly) {
  const auto doc = billion_laughs();
  const auto t0 = std::chrono::steady_clock::now();
  const Outcome o = check(doc);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  EXPECT_LT(elapsed, std::chrono::seconds(1));
  EXPECT_FALSE(mentions(o, "lollollol"));
}

TEST_F(ValidationSecurity, DoctypeInUtf16Document) {
  const std::string doc = to_utf16le_with_bom(
      "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n<!DOCTYPE t:Message [<!ENTITY a \"b\">]>\n" +
      kBody);
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
}

// Saves and restores an environment variable around a test.
class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Without XERCES_DISABLE_DTD (a Xerces build without Debian's patch, or the variable lost), the
// LexicalHandler still refuses every DOCTYPE. (Debian's Xerces reads the variable each time it
// meets "<!DOCTYPE", so unsetting it here takes effect at once.)
TEST_F(ValidationSecurity, SecondLineOfDefenceWithoutTheEnvironmentVariable) {
  EnvGuard guard("XERCES_DISABLE_DTD");
  ::unsetenv("XERCES_DISABLE_DTD");
  {
    const Outcome o =
        check("<?xml version=\"1.0\"?>\n<!DOCTYPE t:Message [<!ELEMENT t:Message ANY>]>\n" + kBody);
    EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  }
  {
    MessageParts p;
    p.decl = "<!DOCTYPE t:Message [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n";
    p.id = "  <t:MessageID>&xxe;</t:MessageID>\n";
    const Outcome o = check(p.str());
    EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
    EXPECT_FALSE(mentions(o, "root:"));
  }
  {
    const auto t0 = std::chrono::steady_clock::now();
    const Outcome o = check(billion_laughs());
    EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  }
  {
    const Outcome o =
        check("<!DOCTYPE t:Message SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n" + kBody);
    EXPECT_EQ(o.verdict, Verdict::forbidden_markup) << describe(o);
  }
  EXPECT_TRUE(check(valid_doc(3)).ok());
}

// --- 5. xsi:schemaLocation hints are ignored
// ------------------------------------------------------

using ValidationSchemaHints = ValidationTest;

std::string hinted(const std::string& hint_attr, const std::string& content) {
  return "<?xml version=\"1.0\"?>\n<t:Message xmlns:t=\"" + kT + "\" xmlns:xsi=\"" + kXsi +
         "\"\n  " + hint_attr + ">\n" + content + "</t:Message>\n";
}

TEST_F(ValidationSchemaHints, LocalPermissiveSchemaIsIgnored) {
  const std::string permissive = "file://" + (vdir() / "permissive" / "t.xsd").string();
  ASSERT_TRUE(fs::exists(vdir() / "permissive" / "t.xsd"));
  const auto doc = hinted("xsi:schemaLocation=\"" + kT + " " + permissive + "\"",
                          "  <t:Anything>goes under the permissive schema</t:Anything>\n");
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "<t:Anything>"));

  // Same with a plain path (no file: scheme) and with noNamespaceSchemaLocation.
  const auto doc2 =
      hinted("xsi:schemaLocation=\"" + kT + " " + (vdir() / "permissive" / "t.xsd").string() + "\"",
             "  <t:Anything/>\n");
  EXPECT_EQ(check(doc2).verdict, Verdict::invalid);
  const auto doc3 =
      hinted("xsi:noNamespaceSchemaLocation=\"" + permissive + "\"", "  <t:Anything/>\n");
  EXPECT_EQ(check(doc3).verdict, Verdict::invalid);
}

// A loopback listener that only records whether anyone connected (the kernel completes and
// queues a connection even if it is never accepted, so a non-blocking accept afterwards finds it).
class RecordingListener {
 public:
  RecordingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(a.sin_port);
  }
  ~RecordingListener() { ::close(fd_); }
  unsigned short port() const { return port_; }
  int connections() {
    int n = 0;
    for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0; ++n) ::close(c);
    return n;
  }

 private:
  int fd_ = -1;
  unsigned short port_ = 0;
};

TEST_F(ValidationSchemaHints, RemoteSchemaIsNeverFetched) {
  RecordingListener listener;
  const auto url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/evil.xsd";
  const auto bad = hinted("xsi:schemaLocation=\"" + kT + " " + url + "\"", "  <t:Anything/>\n");
  const Outcome o = check(bad);
  EXPECT_EQ(o.verdict, Verdict::invalid) << describe(o);

  // A valid document carrying the same hint is simply valid: the hint is not an error.
  MessageParts p;
  p.root_attrs = " xmlns:xsi=\"" + kXsi + "\" xsi:schemaLocation=\"" + kT + " " + url + "\"";
  const Outcome ok = check(p.str());
  EXPECT_TRUE(ok.ok()) << describe(ok);
  // The listener proves it: nobody connected. (Connecting to it by hand would be seen.)
  EXPECT_EQ(listener.connections(), 0);
  {
    const int probe = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(listener.port());
    ASSERT_EQ(::connect(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(probe);
  }
  EXPECT_EQ(listener.connections(), 1) << "the listener would have seen a fetch";
}

// --- 6. nesting depth
// -----------------------------------------------------------------------------

using ValidationLimits = ValidationTest;

std::string nested_notes(int levels) {
  MessageParts p;
  std::string notes;
  notes.reserve(static_cast<std::size_t>(levels) * 20);
  for (int i = 0; i < levels; ++i) notes += "<t:Note>";
  for (int i = 0; i < levels; ++i) notes += "</t:Note>";
  p.tail = "  " + notes + "\n";
  return p.str();
}

TEST_F(ValidationLimits, TenThousandLevelsAreRefused) {
  const auto t0 = std::chrono::steady_clock::now();
  const Outcome o = check(nested_notes(10'000));
  EXPECT_EQ(o.verdict, Verdict::limit_exceeded) << describe(o);
  EXPECT_NE(o.issues.at(0).message.find("256"), std::string::npos) << describe(o);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  // Schema-valid nesting within the limit is fine (root + 250 notes = 251 levels).
  const Outcome ok = check(nested_notes(250));
  EXPECT_TRUE(ok.ok()) << describe(ok);
}

TEST_F(ValidationLimits, DeepNestingOfUndeclaredElementsIsNotOk) {
  MessageParts p;
  std::string deep;
  for (int i = 0; i < 10'000; ++i) deep += "<x>";
  for (int i = 0; i < 10'000; ++i) deep += "</x>";
  p.tail = deep;
  const Outcome o = check(p.str());
  EXPECT_FALSE(o.ok());
  EXPECT_TRUE(o.verdict == Verdict::invalid || o.verdict == Verdict::limit_exceeded) << describe(o);
}

TEST(ValidationLimitsCustom, ExactDepthBoundary) {
  Limits limits;
  limits.max_depth = 4;  // Message / Charge / ChargeID = 3; Message / Note / Note / Note = 4
  auto set = load_test_types(limits);
  Validator v(set);
  MessageParts p;
  p.tail = "  <t:Note><t:Note><t:Note>x</t:Note></t:Note></t:Note>\n";
  const Outcome at = v.validate(p.str());
  EXPECT_TRUE(at.ok()) << describe(at);
  p.tail = "  <t:Note><t:Note><t:Note><t:Note/></t:Note></t:Note></t:Note>\n";
  const auto doc = p.str();
  const Outcome over = v.validate(doc);
  EXPECT_EQ(over.verdict, Verdict::limit_exceeded) << describe(over);
  EXPECT_EQ(over.issues.at(0).line, line_of(doc, "<t:Note><t:Note><t:Note><t:Note/>"));
}

TEST(ValidationLimitsCustom, KeyValueLength) {
  Limits limits;
  limits.max_key_value_bytes = 16;
  auto set = load_test_types(limits);
  Validator v(set);
  MessageParts p;
  p.id =
      "  <t:MessageID>   0123456789abcdef   \n\n  </t:MessageID>\n";  // exactly 16 after trimming
  const Outcome ok = v.validate(p.str());
  ASSERT_TRUE(ok.ok()) << describe(ok);
  EXPECT_EQ(ok.first("message_id"), "0123456789abcdef");

  p.id = "  <t:MessageID>0123456789abcdefg</t:MessageID>\n";  // 17
  const auto doc = p.str();
  const Outcome o = v.validate(doc);
  EXPECT_EQ(o.verdict, Verdict::limit_exceeded) << describe(o);
  EXPECT_NE(o.issues.at(0).message.find("message_id"), std::string::npos);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "<t:MessageID>"));

  // 8 two-byte characters = 16 UTF-16 units but 32 UTF-8 bytes.
  p.id =
      "  "
      "<t:MessageID>\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4\xC3\xA4</"
      "t:MessageID>\n";
  EXPECT_EQ(v.validate(p.str()).verdict, Verdict::limit_exceeded);

  // Lots of whitespace around a short value is fine; internal whitespace counts.
  p.id = "  <t:MessageID>" + std::string(100'000, ' ') + "short" + std::string(100'000, '\n') +
         "</t:MessageID>\n";
  const Outcome spaced = v.validate(p.str());
  ASSERT_TRUE(spaced.ok()) << describe(spaced);
  EXPECT_EQ(spaced.first("message_id"), "short");
  p.id = "  <t:MessageID>a" + std::string(100'000, ' ') + "b</t:MessageID>\n";
  EXPECT_EQ(v.validate(p.str()).verdict, Verdict::limit_exceeded);

  // A non-key element may be long.
  p = MessageParts{};
  p.charges = "  <t:Charge><t:ChargeID>x</t:ChargeID><t:Statute>" + std::string(10'000, 's') +
              "</t:Statute><t:Erased>0</t:Erased></t:Charge>\n";
  EXPECT_TRUE(v.validate(p.str()).ok());
}

// --- 7. encodings and malformed input
// -------------------------------------------------------------

using ValidationMalformed = ValidationTest;

TEST_F(ValidationMalformed, InvalidUtf8) {
  MessageParts p;
  p.case_ = "  <t:Case><t:CaseKey>bad \xC3\x28 byte</t:CaseKey></t:Case>\n";
  const auto doc = p.str();
  const Outcome o = check(doc);
  ASSERT_EQ(o.verdict, Verdict::malformed) << describe(o);
  EXPECT_GT(o.issues.at(0).line, 0u) << describe(o);
  EXPECT_LE(o.issues.at(0).line, line_of(doc, "bad ")) << describe(o);
}

TEST_F(ValidationMalformed, Utf16WithBomIsOk) {
  MessageParts p;
  p.decl = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n";
  p.case_ = "  <t:Case><t:CaseKey>K\xC3\xA4se</t:CaseKey></t:Case>\n";
  const Outcome o = check(to_utf16le_with_bom(p.str()));
  ASSERT_TRUE(o.ok()) << describe(o);
  EXPECT_EQ(o.first("case_key"), "K\xC3\xA4se");
  EXPECT_EQ(o.first("message_id"), "MSG-1");
}

TEST_F(ValidationMalformed, UnknownEncodingName) {
  MessageParts p;
  p.decl = "<?xml version=\"1.0\" encoding=\"X-NO-SUCH-ENCODING\"?>\n";
  const Outcome o = check(p.str());
  EXPECT_EQ(o.verdict, Verdict::malformed) << describe(o);
  EXPECT_FALSE(o.issues.empty());
}

TEST_F(ValidationMalformed, TrailingContentAfterRoot) {
  const auto doc = valid_doc(1) + "garbage";
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::malformed) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "garbage")) << describe(o);
  EXPECT_EQ(check(valid_doc(1) + "<t:Message xmlns:t='" + kT + "'/>").verdict, Verdict::malformed);
  // Whitespace, comments and processing instructions after the root are allowed.
  EXPECT_TRUE(check(valid_doc(1) + "\n<!-- c -->\n<?pi?>\n").ok());
}

TEST_F(ValidationMalformed, EmptyAndBlankInput) {
  const Outcome o = check("");
  EXPECT_EQ(o.verdict, Verdict::malformed);
  EXPECT_FALSE(o.issues.empty());
  EXPECT_EQ(check(std::string_view()).verdict, Verdict::malformed);
  EXPECT_EQ(check("   \n ").verdict, Verdict::malformed);
  EXPECT_EQ(check("<?xml version=\"1.0\"?>").verdict, Verdict::malformed);
}

TEST_F(ValidationMalformed, NotWellFormed) {
  MessageParts p;
  p.case_ = "  <t:Case><t:CaseKey>x</t:Case>\n";  // mismatched end tag
  const auto doc = p.str();
  const Outcome o = check(doc);
  EXPECT_EQ(o.verdict, Verdict::malformed) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, line_of(doc, "</t:Case>"));
  EXPECT_EQ(check("<t:Message xmlns:t='" + kT + "'>").verdict, Verdict::malformed);  // truncated
  EXPECT_EQ(check("<a:b/>").verdict, Verdict::malformed);  // unbound prefix
  const std::string nul =
      "<t:Message xmlns:t='" + kT + "'>" + std::string(1, '\0') + "</t:Message>";
  EXPECT_EQ(check(nul).verdict, Verdict::malformed);
}

TEST_F(ValidationMalformed, HugeAttributeValues) {
  // Undeclared attribute holding 1 MB: invalid, and the message does not echo it.
  MessageParts p;
  p.root_attrs = " junk=\"" + std::string(1 << 20, 'A') + "\"";
  const Outcome o = check(p.str());
  EXPECT_EQ(o.verdict, Verdict::invalid) << describe(o);
  for (const auto& i : o.issues) EXPECT_LE(i.message.size(), 300u);
  // Declared attribute (xs:string) holding 1 MB: valid.
  p.root_attrs = " version=\"" + std::string(1 << 20, 'B') + "\"";
  EXPECT_TRUE(check(p.str()).ok());
  // 1 MB of text in a date: invalid, message capped.
  p = MessageParts{};
  p.filed = "  <t:Filed>" + std::string(1 << 20, '9') + "</t:Filed>\n";
  const Outcome e = check(p.str());
  EXPECT_EQ(e.verdict, Verdict::invalid) << describe(e);
  for (const auto& i : e.issues) EXPECT_LE(i.message.size(), 300u);
  // 1 MB in an element that is a routing key: the key limit refuses it first.
  p = MessageParts{};
  p.code = "  <t:Code>" + std::string(1 << 20, 'C') + "</t:Code>\n";
  EXPECT_EQ(check(p.str()).verdict, Verdict::limit_exceeded);
}

// --- 8. parser reuse
// ------------------------------------------------------------------------------

TEST_F(ValidationTest, ValidationReuseResetsStateBetweenDocuments) {
  Validator v(schemas_);
  MessageParts bad;
  std::swap(bad.filed, bad.code);
  const auto invalid = bad.str();
  const auto deep = nested_notes(1000);
  const auto doctype = "<!DOCTYPE t:Message>\n" + kBody;
  const auto unknown = std::string("<x:Y xmlns:x='urn:y'/>");
  const auto broken = valid_doc(0).substr(0, 200);
  for (int i = 0; i < 1000; ++i) {
    if (i % 2 == 0) {
      const Outcome o = v.validate(valid_doc(i));
      ASSERT_TRUE(o.ok()) << i << " " << describe(o);
      ASSERT_EQ(o.first("message_id"), "MSG-" + std::to_string(i));
      ASSERT_EQ(o.keys.at("charge_id").size(), 1u);
      continue;
    }
    switch ((i / 2) % 5) {
      case 0:
        ASSERT_EQ(v.validate(invalid).verdict, Verdict::invalid) << i;
        break;
      case 1:
        ASSERT_EQ(v.validate(deep).verdict, Verdict::limit_exceeded) << i;
        break;
      case 2:
        ASSERT_EQ(v.validate(doctype).verdict, Verdict::forbidden_markup) << i;
        break;
      case 3:
        ASSERT_EQ(v.validate(unknown).verdict, Verdict::unknown_type) << i;
        break;
      case 4:
        ASSERT_EQ(v.validate(broken).verdict, Verdict::malformed) << i;
        break;
    }
  }
}

// --- 9. one validator per thread
// ------------------------------------------------------------------

TEST_F(ValidationTest, ValidationForThisThreadFromFourThreads) {
  constexpr int kThreads = 4;
  constexpr int kDocs = 200;
  std::atomic<int> failures{0};
  std::atomic<int> validated{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Validator* first = &Validator::for_this_thread(schemas_);
      for (int i = 0; i < kDocs; ++i) {
        Validator& v = Validator::for_this_thread(schemas_);
        if (&v != first) ++failures;
        const int n = t * 10'000 + i;
        if (i % 5 == 1) {  // bad enumeration
          MessageParts p;
          p.code = "  <t:Code>NOPE</t:Code>\n";
          if (v.validate(p.str()).verdict != Verdict::invalid) ++failures;
        } else if (i % 5 == 2) {  // content model: located through the failure path
          MessageParts p;
          std::swap(p.filed, p.code);
          const auto doc = p.str();
          const Outcome o = v.validate(doc);
          if (o.verdict != Verdict::invalid || o.issues.empty() ||
              o.issues[0].line != line_of(doc, "<t:Code>")) {
            ++failures;
          }
        } else if (i % 5 == 3) {  // undeclared root: the root probe
          if (v.validate("<t:Nope xmlns:t='" + kT + "'/>").verdict != Verdict::unknown_type)
            ++failures;
        } else {
          const Outcome o = v.validate(valid_doc(n));
          if (!o.ok() || o.first("message_id") != "MSG-" + std::to_string(n) ||
              o.first("case_key") != "CASE-" + std::to_string(n)) {
            ++failures;
          }
        }
        ++validated;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(validated.load(), kThreads * kDocs);
}

TEST(ValidationThreadCache, RebuiltWhenTheSchemaSetChanges) {
  auto a = load_test_types();
  auto b = load_test_types();
  Validator* va = &Validator::for_this_thread(a);
  EXPECT_EQ(va, &Validator::for_this_thread(a));
  EXPECT_EQ(va->schemas(), a);
  Validator& vb = Validator::for_this_thread(b);
  EXPECT_EQ(vb.schemas(), b);
  EXPECT_TRUE(vb.validate(valid_doc(1)).ok());
  EXPECT_EQ(b->grammar_count(), a->grammar_count());
  EXPECT_EQ(b->types().size(), 3u);
  EXPECT_EQ(b->limits().max_depth, Limits{}.max_depth);
}

// Xerces keeps every namespace URI it meets in the shared pool (see namespace_pool_growth).
TEST(ValidationNamespacePool, GrowthIsVisibleAndAFreshLoadStartsAtZero) {
  auto set = load_test_types();
  Validator v(set);
  EXPECT_EQ(set->namespace_pool_growth(), 0u);
  ASSERT_TRUE(v.validate(valid_doc(1)).ok());
  EXPECT_EQ(set->namespace_pool_growth(), 0u);  // only known namespaces
  for (int i = 0; i < 50; ++i) {
    const Outcome o = v.validate("<x:R xmlns:x='urn:growth:" + std::to_string(i) + "'/>");
    ASSERT_EQ(o.verdict, Verdict::unknown_type);
  }
  EXPECT_EQ(set->namespace_pool_growth(), 50u);
  EXPECT_EQ(load_test_types()->namespace_pool_growth(), 0u);
}

// Namespace declarations are counted before Xerces sees the document: Xerces keeps every URI
// it meets, so a refused flood must not reach it at all.
std::string flood(int n, const std::string& prefix = "urn:flood:", std::size_t pad = 0) {
  std::string doc = "<?xml version=\"1.0\"?>\n<x:R xmlns:x='urn:root'\n";
  for (int i = 0; i < n; ++i) doc += " xmlns:p" + std::to_string(i) + "='" + prefix + std::to_string(i) + std::string(pad, 'a') + "'";
  return doc + "/>\n";
}

std::string to_utf32be(const std::string& ascii) {
  std::string out;
  for (const char c : ascii) out += std::string("\0\0\0", 3) + c;
  return out;
}

TEST(ValidationNamespaceLimits, TooManyDistinctUrisAreRefusedBeforeTheParserSeesThem) {
  Limits limits;
  limits.max_namespaces = 8;
  auto set = load_test_types(limits);
  Validator v(set);
  const Outcome at = v.validate(flood(7));  // 7 + the root's own = 8
  EXPECT_EQ(at.verdict, Verdict::unknown_type) << describe(at);
  EXPECT_EQ(set->namespace_pool_growth(), 8u);
  const Outcome over = v.validate(flood(8, "urn:other:"));
  EXPECT_EQ(over.verdict, Verdict::limit_exceeded) << describe(over);
  ASSERT_EQ(over.issues.size(), 1u);
  EXPECT_EQ(over.issues[0].line, 3u);
  EXPECT_NE(over.issues[0].message.find("more than 8 distinct namespace URIs"), std::string::npos) << describe(over);
  EXPECT_EQ(set->namespace_pool_growth(), 8u) << "the refused document's URIs never reached the pool";
}

TEST(ValidationNamespaceLimits, ALongUriIsRefusedAtItsLine) {
  Limits limits;
  limits.max_namespace_uri_length = 100;
  auto set = load_test_types(limits);
  Validator v(set);
  const std::string ok = "<x:R xmlns:x='urn:" + std::string(96, 'a') + "'/>";  // 100 characters
  EXPECT_EQ(v.validate(ok).verdict, Verdict::unknown_type);
  const std::string doc = "<?xml version=\"1.0\"?>\n<!-- a comment -->\n<x:R\n  xmlns:x = \"urn:" + std::string(97, 'a') + "\"/>";
  const Outcome o = v.validate(doc);
  EXPECT_EQ(o.verdict, Verdict::limit_exceeded) << describe(o);
  ASSERT_EQ(o.issues.size(), 1u);
  EXPECT_EQ(o.issues[0].line, 4u);
  EXPECT_NE(o.issues[0].message.find("101 characters (at most 100)"), std::string::npos) << describe(o);
  EXPECT_EQ(set->namespace_pool_growth(), 1u) << "only the accepted document's URI";
}

TEST(ValidationNamespaceLimits, OneUriRepeatedOnEveryElementCountsOnce) {
  Limits limits;
  limits.max_namespaces = 4;
  auto set = load_test_types(limits);
  Validator v(set);
  MessageParts p;
  p.charges.clear();
  for (int i = 0; i < 200; ++i) {
    p.charges += "  <t:Charge xmlns:t=\"" + std::string(kT) + "\"><t:ChargeID>CH-" + std::to_string(i) +
                 "</t:ChargeID><t:Statute>PC 1</t:Statute><t:Erased>false</t:Erased></t:Charge>\n";
  }
  const Outcome o = v.validate(p.str());
  EXPECT_TRUE(o.ok()) << describe(o);
}

TEST(ValidationNamespaceLimits, WhatOnlyLooksLikeADeclarationIsNotCounted) {
  Limits limits;
  limits.max_namespaces = 4;
  auto set = load_test_types(limits);
  Validator v(set);
  MessageParts p;
  std::string fake;
  for (int i = 0; i < 10; ++i) fake += " xmlns:f" + std::to_string(i) + "='urn:fake:" + std::to_string(i) + "'";
  p.tail = "  <!--" + fake + " -->\n  <?pi" + fake + " ?>\n";
  p.code = "  <t:Code><![CDATA[<a" + fake + ">]]></t:Code>\n";
  p.root_attrs = " version=\"1\"";
  const Outcome o = v.validate(p.str());
  // Whatever the schema says about the content, the census must not refuse it.
  EXPECT_NE(o.verdict, Verdict::limit_exceeded) << describe(o);
  const Outcome text = v.validate("<x:R xmlns:x='urn:root'>" + fake + "</x:R>");
  EXPECT_EQ(text.verdict, Verdict::unknown_type) << describe(text);
  const Outcome attr = v.validate("<x:R xmlns:x='urn:root' a=\"" + fake + "\"/>");
  EXPECT_EQ(attr.verdict, Verdict::unknown_type) << describe(attr);
}

TEST(ValidationNamespaceLimits, OtherEncodingsAreCountedToo) {
  Limits limits;
  limits.max_namespaces = 8;
  auto set = load_test_types(limits);
  Validator v(set);
  const std::string doc = flood(20);
  const Outcome u16 = v.validate(to_utf16le_with_bom(doc));
  EXPECT_EQ(u16.verdict, Verdict::limit_exceeded) << describe(u16);
  const Outcome u16_nobom = v.validate(to_utf16le_with_bom(doc).substr(2));
  EXPECT_EQ(u16_nobom.verdict, Verdict::limit_exceeded) << describe(u16_nobom);
  const Outcome u32 = v.validate(to_utf32be(doc));
  EXPECT_EQ(u32.verdict, Verdict::limit_exceeded) << describe(u32);
  const Outcome u32_bom = v.validate(std::string("\0\0\xFE\xFF", 4) + to_utf32be(doc));
  EXPECT_EQ(u32_bom.verdict, Verdict::limit_exceeded) << describe(u32_bom);
  EXPECT_EQ(set->namespace_pool_growth(), 0u);
  const Outcome ebcdic = v.validate("\x4C\x6F\xA7\x94\x93\x40");
  EXPECT_EQ(ebcdic.verdict, Verdict::malformed) << describe(ebcdic);
  EXPECT_NE(ebcdic.issues.at(0).message.find("EBCDIC"), std::string::npos) << describe(ebcdic);
}

TEST(ValidationEncoding, ADeclarationThatContradictsTheBytesIsMalformed) {
  auto set = load_test_types();
  Validator v(set);
  const std::string body = "<x:R xmlns:x='urn:root'/>";
  const auto decl = [](const char* enc) { return std::string("<?xml version=\"1.0\" encoding=\"") + enc + "\"?>"; };
  const auto verdict = [&](const std::string& doc) { return v.validate(doc).verdict; };
  // Agreeing: decoded, then refused by type.
  EXPECT_EQ(verdict(decl("UTF-8") + body), Verdict::unknown_type);
  EXPECT_EQ(verdict("\xEF\xBB\xBF" + decl("utf-8") + body), Verdict::unknown_type);
  EXPECT_EQ(verdict(decl("ISO-8859-1") + body), Verdict::unknown_type);
  EXPECT_EQ(verdict(to_utf16le_with_bom(decl("UTF-16") + body)), Verdict::unknown_type);
  EXPECT_EQ(verdict(to_utf16le_with_bom(decl("UTF-16LE") + body)), Verdict::unknown_type);
  // Contradicting.
  const Outcome bom8 = v.validate("\xEF\xBB\xBF" + decl("UTF-16") + body);
  EXPECT_EQ(bom8.verdict, Verdict::malformed) << describe(bom8);
  EXPECT_NE(bom8.issues.at(0).message.find("names the encoding UTF-16"), std::string::npos) << describe(bom8);
  EXPECT_EQ(verdict("\xEF\xBB\xBF" + decl("ISO-8859-1") + body), Verdict::malformed);
  EXPECT_EQ(verdict(to_utf16le_with_bom(decl("UTF-8") + body)), Verdict::malformed);
  EXPECT_EQ(verdict(to_utf16le_with_bom(decl("UTF-16BE") + body)), Verdict::malformed);
  EXPECT_EQ(verdict(decl("UTF-32") + body), Verdict::malformed);
  EXPECT_EQ(verdict(to_utf32be(decl("UTF-8") + body)), Verdict::malformed);
  EXPECT_EQ(set->namespace_pool_growth(), 1u) << "urn:root, from the agreeing documents";
}

// --- 10. schema loading errors
// --------------------------------------------------------------------

std::string load_error_of(std::vector<MessageTypeSpec> types) {
  try {
    SchemaSet::load(std::move(types), Limits{});
  } catch (const SchemaLoadError& e) {
    return e.what();
  }
  return "(no SchemaLoadError)";
}

TEST(ValidationSchemaLoad, LoadsAndCountsGrammars) {
  auto set = load_test_types();
  EXPECT_EQ(set->grammar_count(), 2u);  // urn:cjhub:test:t and urn:cjhub:test:u
  EXPECT_EQ(set->types().at(0).name, "TestMessage");
}

TEST(ValidationSchemaLoad, MissingFile) {
  auto t = message_type();
  const auto missing = (vdir() / "no-such-file.xsd").string();
  t.schema_files = {missing};
  const auto what = load_error_of({t});
  EXPECT_NE(what.find("TestMessage"), std::string::npos) << what;
  EXPECT_NE(what.find(missing), std::string::npos) << what;
}

TEST(ValidationSchemaLoad, MalformedXsd) {
  auto t = message_type();
  t.root_namespace = "urn:cjhub:test:bad";
  t.root_local_name = "Root";
  t.namespaces = {{"b", "urn:cjhub:test:bad"}};
  t.keys = {};
  t.schema_files = {(vdir() / "malformed.xsd").string()};
  const auto what = load_error_of({t});
  EXPECT_NE(what.find("TestMessage"), std::string::npos) << what;
  EXPECT_NE(what.find("malformed.xsd"), std::string::npos) << what;
  EXPECT_NE(what.find("malformed.xsd:9:"), std::string::npos) << what;  // file:line of the error
}

TEST(ValidationSchemaLoad, InvalidXsd) {
  auto t = message_type();
  t.root_namespace = "urn:cjhub:test:bad2";
  t.root_local_name = "Root";
  t.keys = {};
  t.schema_files = {(vdir() / "invalid_schema.xsd").string()};
  const auto what = load_error_of({t});
  EXPECT_NE(what.find("invalid_schema.xsd"), std::string::npos) << what;
  EXPECT_NE(what.find("NoSuchType"), std::string::npos) << what;
}

TEST(ValidationSchemaLoad, NetworkImportIsRefused) {
  auto t = message_type();
  t.root_namespace = "urn:cjhub:test:remote";
  t.root_local_name = "Root";
  t.namespaces = {};
  t.keys = {};
  t.schema_files = {(vdir() / "remote_import.xsd").string()};
  const auto t0 = std::chrono::steady_clock::now();
  const auto what = load_error_of({t});
  EXPECT_NE(what.find("refusing to fetch 'http://127.0.0.1:9/evil.xsd'"), std::string::npos)
      << what;
  EXPECT_NE(what.find("remote_import.xsd"), std::string::npos) << what;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(ValidationSchemaLoad, BadKeyPaths) {
  auto t = message_type();
  t.keys = {{"case_key", "t:Message/x:Case/t:CaseKey"}};
  auto what = load_error_of({t});
  EXPECT_NE(what.find("TestMessage"), std::string::npos) << what;
  EXPECT_NE(what.find("case_key"), std::string::npos) << what;
  EXPECT_NE(what.find("'x'"), std::string::npos) << what;

  t.keys = {{"case_key", "t:Case/t:CaseKey"}};  // does not start at the root
  what = load_error_of({t});
  EXPECT_NE(what.find("case_key"), std::string::npos) << what;
  EXPECT_NE(what.find("root"), std::string::npos) << what;

  for (const char* bad :
       {"", "t:Message//t:X", "t:Message/", "Message/t:X", "t:Message/t:*", ":Message"}) {
    t.keys = {{"k", bad}};
    what = load_error_of({t});
    EXPECT_NE(what.find("key 'k'"), std::string::npos) << bad << " -> " << what;
  }
}

TEST(ValidationSchemaLoad, ConfigurationMistakes) {
  auto t = message_type();
  t.root_local_name = "NotDeclared";
  t.keys = {};
  auto what = load_error_of({t});
  EXPECT_NE(what.find("NotDeclared"), std::string::npos) << what;

  EXPECT_NE(load_error_of({message_type(), message_type()}).find("duplicate"), std::string::npos);
  auto same_root = receipt_type();
  same_root.root_local_name = "Message";
  same_root.keys = {};
  EXPECT_NE(load_error_of({message_type(), same_root}).find("same root"), std::string::npos);

  auto relative = message_type();
  relative.schema_files = {"tests/data/validation/t.xsd"};
  EXPECT_NE(load_error_of({relative}).find("absolute"), std::string::npos);
  EXPECT_NE(load_error_of({}).find("no message types"), std::string::npos);
}

// --- 11. the NIBRS 4.2 corpus
// ---------------------------------------------------------------------

const std::string kNibrs = "http://fbi.gov/cjis/nibrs/4.2";

class ValidationCorpus : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto corpus = test::corpus_dir();
    if (corpus.empty())
      GTEST_SKIP() << "no corpus (set CJHUB_CORPUS_DIR or provide ../shared/corpus)";
    dir_ = corpus / "nibrs-4.2";
    if (!fs::exists(dir_ / "base-xsd/nibrs/4.2/nibrs.xsd"))
      GTEST_SKIP() << "NIBRS 4.2 not in " << corpus;
    MessageTypeSpec t;
    t.name = "NibrsSubmission";
    t.root_namespace = kNibrs;
    t.root_local_name = "Submission";
    t.schema_files = {(dir_ / "base-xsd/nibrs/4.2/nibrs.xsd").string()};
    t.namespaces = {{"nibrs", kNibrs},
                    {"cjis", "http://fbi.gov/cjis/1.0"},
                    {"nc", "http://release.niem.gov/niem/niem-core/3.0/"},
                    {"j", "http://release.niem.gov/niem/domains/jxdm/5.2/"}};
    t.keys = {
        {"message_id",
         "nibrs:Submission/cjis:MessageMetadata/cjis:MessageIdentification/nc:IdentificationID"},
        {"origin_ori",
         "nibrs:Submission/cjis:MessageMetadata/cjis:MessageSubmittingOrganization/"
         "j:OrganizationAugmentation/j:OrganizationORIIdentification/nc:IdentificationID"},
        {"action",
         "nibrs:Submission/nibrs:Report/nibrs:ReportHeader/nibrs:ReportActionCategoryCode"}};
    schemas_ = SchemaSet::load({t}, Limits{});
  }

  std::vector<fs::path> samples() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_ / "iep-sample")) {
      if (e.path().extension() == ".xml") out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  std::shared_ptr<const SchemaSet> schemas_;
};

TEST_F(ValidationCorpus, AllNibrsSamplesAreValid) {
  Validator v(schemas_);
  const auto files = samples();
  ASSERT_EQ(files.size(), 7u);
  for (const auto& f : files) {
    const auto doc = test::read_file(f);
    const Outcome o = v.validate(doc);
    EXPECT_TRUE(o.ok()) << f.filename() << ": " << describe(o);
    EXPECT_EQ(o.type_name, "NibrsSubmission") << f.filename();
    EXPECT_FALSE(o.first("message_id").empty()) << f.filename();
    if (f.filename() == "nibrs_GroupAIncident_Sample.xml") {
      EXPECT_EQ(o.first("message_id"), "123456");
      EXPECT_EQ(o.first("origin_ori"), "FBI111111");
      EXPECT_EQ(o.first("action"), "I");
    }
    EXPECT_FALSE(o.first("origin_ori").empty()) << f.filename();
    EXPECT_FALSE(o.first("action").empty()) << f.filename();
  }
  EXPECT_GT(schemas_->grammar_count(), 5u);
}

TEST_F(ValidationCorpus, SwappedSiblingsAreInvalidAtTheMisplacedElement) {
  const auto doc = test::read_file(dir_ / "iep-sample" / "nibrs_GroupAIncident_Sample.xml");
  ASSERT_TRUE(Validator(schemas_).validate(doc).ok());
  // cjis:MessageDateTime and cjis:MessageIdentification are both required, in that order.
  // Swap the two elements (with their text); MessageIdentification now starts where
  // MessageDateTime was and is the misplaced element.
  const std::string a_open = "<cjis:MessageDateTime>";
  const std::string a_close = "</cjis:MessageDateTime>";
  const std::string b_open = "<cjis:MessageIdentification>";
  const std::string b_close = "</cjis:MessageIdentification>";
  const auto a0 = doc.find(a_open);
  const auto a1 = doc.find(a_close) + a_close.size();
  const auto b0 = doc.find(b_open);
  const auto b1 = doc.find(b_close) + b_close.size();
  ASSERT_TRUE(a0 != std::string::npos && a1 < b0 && b1 != std::string::npos);
  const std::string swapped = doc.substr(0, a0) + doc.substr(b0, b1 - b0) +
                              doc.substr(a1, b0 - a1) + doc.substr(a0, a1 - a0) + doc.substr(b1);
  ASSERT_EQ(swapped.size(), doc.size());
  const std::size_t expected_line = line_of(swapped, b_open);
  ASSERT_GT(expected_line, 1u);
  const Outcome o = Validator(schemas_).validate(swapped);
  ASSERT_EQ(o.verdict, Verdict::invalid) << describe(o);
  EXPECT_EQ(o.issues.at(0).line, expected_line) << describe(o);
  EXPECT_EQ(o.type_name, "NibrsSubmission");
}

TEST_F(ValidationCorpus, SchemaLocationHintsInSamplesAreNotNeeded) {
  // The samples point at ../base-xsd/nibrs/4.2/nibrs.xsd relative to their own location; parsed
  // from memory that path means nothing, and it is not used: strip it and they are still valid.
  Validator v(schemas_);
  for (const auto& f : samples()) {
    auto doc = test::read_file(f);
    const auto at = doc.find("xsi:schemaLocation=\"");
    if (at == std::string::npos) continue;
    const auto end = doc.find('"', at + 20);
    doc.erase(at, end + 1 - at);
    const Outcome o = v.validate(doc);
    EXPECT_TRUE(o.ok()) << f.filename() << ": " << describe(o);
  }
}

// --- 12. the CISS schemas (written by another team member)
// ----------------------------------------

TEST(ValidationCiss, ValidAndInvalidSamples) {
  const auto xsd = test::source_dir() / "schemas" / "ciss" / "1.0" / "ciss.xsd";
  const auto valid_dir = test::data_dir() / "ciss" / "valid";
  const auto invalid_dir = test::data_dir() / "ciss" / "invalid";
  ASSERT_TRUE(fs::exists(xsd) && fs::is_directory(valid_dir) && fs::is_directory(invalid_dir))
      << "the CISS schema or its samples are missing";
  // The target namespace is whatever ciss.xsd declares.
  const auto text = test::read_file(xsd);
  const auto tn = text.find("targetNamespace=\"");
  ASSERT_NE(tn, std::string::npos);
  const std::string ns = text.substr(tn + 17, text.find('"', tn + 17) - (tn + 17));
  std::vector<MessageTypeSpec> types;
  for (const char* root : {"ArrestPacket", "EarlyArrestNotification", "CaseUpdate", "ErasureNotice",
                           "Acknowledgement"}) {
    MessageTypeSpec t;
    t.name = root;
    t.root_namespace = ns;
    t.root_local_name = root;
    t.schema_files = {xsd.string()};
    t.namespaces = {{"ciss", ns}};
    types.push_back(t);
  }
  std::shared_ptr<const SchemaSet> set;
  try {
    set = SchemaSet::load(types, Limits{});
  } catch (const SchemaLoadError& e) {
    FAIL() << e.what();
  }
  Validator v(set);
  int valid_count = 0;
  int invalid_count = 0;
  for (const auto& e : fs::directory_iterator(valid_dir)) {
    if (e.path().extension() != ".xml") continue;
    ++valid_count;
    const Outcome o = v.validate(test::read_file(e.path()));
    EXPECT_TRUE(o.ok()) << e.path().filename() << ": " << describe(o);
    EXPECT_FALSE(o.type_name.empty()) << e.path().filename();
  }
  for (const auto& e : fs::directory_iterator(invalid_dir)) {
    if (e.path().extension() != ".xml") continue;
    ++invalid_count;
    const Outcome o = v.validate(test::read_file(e.path()));
    EXPECT_FALSE(o.ok()) << e.path().filename() << " was accepted";
    EXPECT_FALSE(o.issues.empty()) << e.path().filename();
    for (const auto& i : o.issues)
      EXPECT_GT(i.line, 0u) << e.path().filename() << ": " << describe(o);
    // A root that is not one of the five types is unknown_type; everything else is invalid.
    const std::string name = e.path().filename().string();
    if (name.find("root") != std::string::npos) {
      EXPECT_EQ(o.verdict, Verdict::unknown_type) << name << ": " << describe(o);
    } else {
      EXPECT_EQ(o.verdict, Verdict::invalid) << name << ": " << describe(o);
    }
  }
  ASSERT_GT(valid_count, 0) << "no valid CISS samples";
  ASSERT_GT(invalid_count, 0) << "no invalid CISS samples";
}

}  // namespace
}  // namespace cjhub::validation

// The holder swaps in a fresh schema set once hostile documents have grown Xerces' shared
// namespace table past the limit; validation keeps working across the swap.
// The one type the schema-holder tests load.
static cjhub::validation::MessageTypeSpec holder_type() {
  cjhub::validation::MessageTypeSpec t;
  t.name = "T";
  t.root_namespace = "urn:cjhub:test:t";
  t.root_local_name = "Message";
  t.schema_files = {(cjhub::test::data_dir() / "validation" / "t.xsd").string()};
  t.namespaces = {{"t", "urn:cjhub:test:t"}};
  t.keys = {{"message_id", "t:Message/t:MessageID"}};
  return t;
}

TEST(ValidationSchemaHolder, RenewsAfterNamespaceGrowth) {
  using namespace cjhub::validation;
  const auto dir = cjhub::test::data_dir() / "validation";
  const auto t = holder_type();
  SchemaHolder holder({t}, Limits{}, 50);
  const auto first = holder.current();
  const auto valid = cjhub::test::read_file(dir / "valid_message.xml");
  for (int i = 0; i < 60; ++i) {
    const std::string doc = "<x:Junk xmlns:x='urn:made-up:" + std::to_string(i) + "'/>";
    EXPECT_FALSE(Validator::for_this_thread(holder.current()).validate(doc).ok());
    holder.renew_if_grown();
  }
  EXPECT_GE(holder.renewals(), 1u);
  EXPECT_NE(holder.current().get(), first.get());
  EXPECT_LE(holder.current()->namespace_pool_growth(), 50u);
  EXPECT_TRUE(Validator::for_this_thread(holder.current()).validate(valid).ok());
}

// Few URIs, but long ones: the renewal counts their bytes too.
TEST(ValidationSchemaHolder, RenewsAfterNamespaceBytes) {
  using namespace cjhub::validation;
  const auto t = holder_type();
  SchemaHolder holder({t}, Limits{}, 10000, 64 * 1024);
  const auto first = holder.current();
  for (int i = 0; i < 30; ++i) {  // 30 URIs of 1,000 characters: about 60 KB of UTF-16
    const std::string doc = "<x:Junk xmlns:x='urn:" + std::to_string(i) + std::string(1000, 'a') + "'/>";
    EXPECT_FALSE(Validator::for_this_thread(holder.current()).validate(doc).ok());
    holder.renew_if_grown();
  }
  EXPECT_EQ(holder.renewals(), 0u);
  EXPECT_GT(first->namespace_pool_bytes(), 30u * 2000u);
  EXPECT_LT(first->namespace_pool_bytes(), 64u * 1024u);
  for (int i = 30; i < 40; ++i) {
    const std::string doc = "<x:Junk xmlns:x='urn:" + std::to_string(i) + std::string(1000, 'a') + "'/>";
    EXPECT_FALSE(Validator::for_this_thread(holder.current()).validate(doc).ok());
    holder.renew_if_grown();
  }
  EXPECT_EQ(holder.renewals(), 1u);
  EXPECT_NE(holder.current().get(), first.get());
  EXPECT_LT(holder.current()->namespace_pool_bytes(), 64u * 1024u);
  EXPECT_LT(holder.current()->namespace_pool_growth(), 40u);
}

// Xerces builds a pattern facet's character-class maps lazily, on first use, without a lock, and
// asserts (aborting the process) when two threads build the same map at once. A freshly loaded
// schema set must therefore come with every map built: here many threads validate the first
// documents of fresh sets at the same instant, as the first requests after a start or a reload do.
TEST(ValidationConcurrency, FreshSchemasValidateFromManyThreadsAtOnce) {
  using namespace cjhub::validation;
  const auto xsd = cjhub::test::source_dir() / "schemas" / "ciss" / "1.0" / "ciss.xsd";
  MessageTypeSpec t;
  t.name = "ArrestPacket";
  t.root_namespace = "http://cjhub.example.org/ciss/1.0/";
  t.root_local_name = "ArrestPacket";
  t.schema_files = {xsd.string()};
  const auto docs = {cjhub::test::read_file(cjhub::test::data_dir() / "ciss" / "valid" / "arrest-packet-1.xml"),
                     cjhub::test::read_file(cjhub::test::data_dir() / "ciss" / "valid" / "arrest-packet-2.xml")};
  constexpr int kThreads = 8;
  for (int round = 0; round < 40; ++round) {
    const auto set = SchemaSet::load({t}, Limits{});
    std::vector<std::unique_ptr<Validator>> validators;
    for (int i = 0; i < kThreads; ++i) validators.push_back(std::make_unique<Validator>(set));
    std::atomic<int> ready{0}, ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kThreads) {
        }
        for (const auto& d : docs) ok.fetch_add(validators[static_cast<std::size_t>(i)]->validate(d).ok() ? 1 : 0);
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(ok.load(), kThreads * 2) << "round " << round;
  }
}

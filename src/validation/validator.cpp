// The hot path: one hardened SAX2 pass per document that checks well-formedness, validates
// against the locked grammar pool, identifies the message type from the root element and reads
// the routing keys.
//
// Element events are taken from Xerces' "advanced document handler" interface
// (XMLDocumentHandler) rather than the SAX2 ContentHandler: it hands over the element
// declaration and the namespace URI id, so namespace matching is an integer comparison and, when
// a content model fails, the failing child can be located (Xerces only checks a content model at
// the parent's end tag and reports the error there).
#include <limits>
#include <new>
#include <optional>
#include <utility>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/framework/XMLContentModel.hpp>
#include <xercesc/framework/XMLDocumentHandler.hpp>
#include <xercesc/framework/XMLElementDecl.hpp>
#include <xercesc/parsers/SAX2XMLReaderImpl.hpp>
#include <xercesc/sax/EntityResolver.hpp>
#include <xercesc/sax/ErrorHandler.hpp>
#include <xercesc/sax/Locator.hpp>
#include <xercesc/sax/SAXException.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/sax2/Attributes.hpp>
#include <xercesc/sax2/DefaultHandler.hpp>
#include <xercesc/sax2/LexicalHandler.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/QName.hpp>
#include <xercesc/util/SecurityManager.hpp>
#include <xercesc/util/StringPool.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLUni.hpp>
#include <xercesc/validators/common/GrammarResolver.hpp>

#include "validation/binary_check.hpp"
#include "validation/internal.hpp"

namespace xc = xercesc;

namespace cjhub::validation {

namespace {

using detail::xstring;

constexpr std::size_t kMaxIssues = 8;
constexpr XMLSize_t kEntityExpansionLimit = 64;
// Trailing whitespace kept after a key value before it is dropped (see characters()).
constexpr std::size_t kKeyWhitespaceSlack = 4096;
constexpr std::uint32_t kNoNode = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t kKeepChildren = 1 << 16;  // child records kept allocated between documents
const XMLCh kBufferId[] = {u'm', u'e', u's', u's', u'a', u'g', u'e', 0};
const XMLByte kNoBytes[] = {0};

// Thrown from a handler to end the parse at once; caught in Validator::validate. Xerces unwinds
// through its janitors and resets the scanner at the start of the next parse.
struct StopParse {};

inline bool is_xml_space(XMLCh c) noexcept {
  return c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D;
}

using ReaderPtr = std::unique_ptr<xc::SAX2XMLReaderImpl>;

// Settings shared by the validating reader and the root probe.
void harden(xc::SAX2XMLReaderImpl& r, xc::SecurityManager& security) {
  r.setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
  r.setFeature(xc::XMLUni::fgSAX2CoreNameSpacePrefixes, false);
  r.setFeature(xc::XMLUni::fgXercesLoadSchema, false);  // xsi:schemaLocation is ignored
  r.setFeature(xc::XMLUni::fgXercesCacheGrammarFromParse, false);
  r.setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
  r.setFeature(xc::XMLUni::fgXercesDisableDefaultEntityResolution, true);
  r.setFeature(xc::XMLUni::fgXercesSkipDTDValidation, true);
  r.setFeature(xc::XMLUni::fgXercesIgnoreCachedDTD, true);
  r.setFeature(xc::XMLUni::fgXercesContinueAfterFatalError, false);
  r.setProperty(xc::XMLUni::fgXercesSecurityManager, &security);
}

// Reads only the root element's name (namespace URI and local name), without validation. Used
// when a validity error is reported before the root's start tag was handed over (Xerces checks a
// start tag before reporting it): if the root is not a registered type, the verdict is
// unknown_type rather than invalid.
class RootProbe final : public xc::DefaultHandler {
 public:
  explicit RootProbe(xc::SecurityManager& security)
      : reader_(std::make_unique<xc::SAX2XMLReaderImpl>(xc::XMLPlatformUtils::fgMemoryManager)),
        source_(kNoBytes, 0, kBufferId, false, xc::XMLPlatformUtils::fgMemoryManager) {
    harden(*reader_, security);
    reader_->setFeature(xc::XMLUni::fgSAX2CoreValidation, false);
    reader_->setFeature(xc::XMLUni::fgXercesSchema, false);
    reader_->setContentHandler(this);
    reader_->setErrorHandler(this);
    reader_->setLexicalHandler(this);
    reader_->setEntityResolver(this);
    source_.setCopyBufToStream(false);
  }

  // {namespace URI, local name} of the root, if the document gets that far.
  std::optional<std::pair<xstring, xstring>> root_of(std::string_view doc) {
    found_.reset();
    source_.resetMemBufInputSource(reinterpret_cast<const XMLByte*>(doc.data()), doc.size());
    try {
      reader_->parse(source_);
    } catch (...) {  // StopParse, or anything Xerces throws: we have what we have
    }
    return std::move(found_);
  }

  void startElement(const XMLCh* const uri, const XMLCh* const local, const XMLCh* const,
                    const xc::Attributes&) override {
    found_.emplace(xstring(reinterpret_cast<const char16_t*>(uri)),
                   xstring(reinterpret_cast<const char16_t*>(local)));
    throw StopParse{};
  }
  void fatalError(const xc::SAXParseException&) override { throw StopParse{}; }
  void error(const xc::SAXParseException&) override {}
  void warning(const xc::SAXParseException&) override {}
  void startDTD(const XMLCh* const, const XMLCh* const, const XMLCh* const) override {
    throw StopParse{};
  }
  void startEntity(const XMLCh* const) override { throw StopParse{}; }
  xc::InputSource* resolveEntity(const XMLCh* const, const XMLCh* const) override {
    throw StopParse{};
  }

 private:
  ReaderPtr reader_;
  xc::MemBufInputSource source_;
  std::optional<std::pair<xstring, xstring>> found_;
};

// The SAX2 ContentHandler is installed only to receive the document locator (line and column
// for the issues this module raises itself); element events go to DocumentHandler.
class LocatorSink final : public xc::DefaultHandler {
 public:
  void setDocumentLocator(const xc::Locator* const locator) override { locator_ = locator; }
  const xc::Locator* locator() const noexcept { return locator_; }

 private:
  const xc::Locator* locator_ = nullptr;
};

// Per-document state machine: root check, depth limit, routing keys, child positions, and the
// error, lexical and entity-resolution callbacks.
class DocumentHandler final : public xc::XMLDocumentHandler,
                              public xc::ErrorHandler,
                              public xc::LexicalHandler,
                              public xc::EntityResolver {
 public:
  DocumentHandler(const SchemaSet::Impl& set, const LocatorSink& locator)
      : set_(set),
        locator_(locator),
        max_depth_(set.limits.max_depth),
        max_key_(set.limits.max_key_value_bytes) {
    frames_.resize(std::min<std::size_t>(max_depth_, 64) + 1);
    children_.reserve(256);
    text_.reserve(256);
  }

  // Starts a document of `size` bytes that `pool` validates.
  void begin(Outcome& out, std::size_t pool, std::size_t size) {
    out_ = &out;
    pool_ = pool;
    size_ = size;
    binaries_.reset();
    type_ = nullptr;
    failed_ = false;
    root_seen_ = false;
    depth_ = 0;
    text_.clear();
    children_.clear();
    // A document with a huge number of siblings should not pin its memory in this thread.
    if (children_.capacity() > kKeepChildren) std::vector<Child>().swap(children_);
  }

  bool failed() const noexcept { return failed_; }
  bool root_seen() const noexcept { return root_seen_; }

  // Records a problem; the first one decides the verdict.
  void fail(Verdict v, std::size_t line, std::size_t column, std::string message) {
    if (!failed_) {
      failed_ = true;
      out_->verdict = v;
    }
    if (out_->issues.size() < kMaxIssues) {
      out_->issues.push_back(Issue{line, column, std::move(message)});
    }
  }

  // XMLDocumentHandler ----------------------------------------------------------------------------

  void startElement(const xc::XMLElementDecl& decl, const unsigned int uri_id, const XMLCh* const,
                    const xc::RefVectorOf<xc::XMLAttr>& attrs, const XMLSize_t attr_count, const bool is_empty,
                    const bool is_root) override {
    const XMLCh* local = decl.getElementName()->getLocalPart();
    const std::size_t d = depth_ + 1;
    if (d > max_depth_) {
      fail_here(Verdict::limit_exceeded,
                "element nesting deeper than " + std::to_string(max_depth_) + " levels");
      throw StopParse{};
    }
    if (d >= frames_.size()) frames_.resize(std::min(max_depth_ + 1, frames_.size() * 2));

    // Where this element starts, as a child of its parent (see locate_failing_child).
    if (d > 1) {
      const xc::Locator* l = locator_.locator();
      children_.push_back(Child{decl.getElementName(), l != nullptr ? l->getLineNumber() : 0,
                                l != nullptr ? l->getColumnNumber() : 0});
    }

    depth_ = d;
    Frame& f = frames_[d];
    f.decl = &decl;
    f.children_begin = children_.size();
    f.node = kNoNode;
    f.capture = false;
    if (is_root || d == 1) {
      root_seen_ = true;
      type_ = set_.find_root(pool_, uri_id, local);
      if (type_ == nullptr) {
        const XMLCh* uri = set_.pools[pool_]->grammars->getURIStringPool()->getValueForId(uri_id);
        fail_here(Verdict::unknown_type, "root element {" + detail::to_utf8(uri) + "}" +
                                             detail::to_utf8(local) +
                                             " is not a registered message type");
        throw StopParse{};
      }
      out_->type_name = type_->name;
      if (type_->max_body_bytes > 0 && size_ > type_->max_body_bytes) {
        fail_here(Verdict::too_large, fmt::format("messages of type {} may be at most {} bytes; this one is {}", type_->name,
                                                  type_->max_body_bytes, size_));
        throw StopParse{};
      }
      f.node = 0;
    } else {
      const std::uint32_t parent = frames_[d - 1].node;
      if (parent != kNoNode) {
        for (std::uint32_t child : type_->nodes[parent].children) {
          const detail::KeyNode& n = type_->nodes[child];
          if (uri_id == n.ns_id && detail::equals(local, n.local)) {
            f.node = child;
            break;
          }
        }
      }
    }
    if (const auto part = detail::binary_part(local); part != detail::BinaryPart::none && d > 1 &&
        detail::is_niem_core(set_.pools[pool_]->grammars->getURIStringPool()->getValueForId(uri_id))) {
      binaries_.start_part(d, part);
    }
    if (f.node != kNoNode && !type_->nodes[f.node].keys.empty()) {
      f.capture = true;
      f.dropped_space = false;
      f.text_start = text_.size();
      f.content_end = text_.size();
    }
    // After the element's own capture is set up: an attribute of a `charges` element belongs to it.
    if (f.node != kNoNode && !type_->nodes[f.node].attributes.empty()) capture_attributes(f, attrs, attr_count);
    if (is_empty) end_current();
  }

  void endElement(const xc::XMLElementDecl&, const unsigned int, const bool,
                  const XMLCh* const) override {
    end_current();
  }

  void docCharacters(const XMLCh* const chars, const XMLSize_t length, const bool) override {
    if (binaries_.reading(depth_)) binaries_.characters(depth_, chars, length);
    Frame& f = frames_[depth_];
    if (!f.capture) return;
    const XMLCh* p = chars;
    std::size_t n = length;
    if (f.content_end == f.text_start && text_.size() == f.text_start) {
      while (n > 0 && is_xml_space(*p)) {  // leading whitespace
        ++p;
        --n;
      }
    }
    if (n == 0) return;
    std::size_t last = n;  // one past the last non-space character of this chunk
    while (last > 0 && is_xml_space(p[last - 1])) --last;
    if (last > 0 && f.dropped_space) key_too_long(f);  // the dropped spaces were inside the value
    text_.append(reinterpret_cast<const char16_t*>(p), n);
    if (last > 0) f.content_end = text_.size() - (n - last);
    // Each UTF-16 unit is at least one UTF-8 byte: more units than bytes allowed is too long.
    if (f.content_end - f.text_start > max_key_) key_too_long(f);
    if (text_.size() - f.text_start > max_key_ + kKeyWhitespaceSlack) {
      // Only spaces beyond the value so far: keep the value, drop the spaces, and refuse the
      // key if anything but space follows.
      text_.resize(f.content_end);
      f.dropped_space = true;
    }
  }

  void docComment(const XMLCh* const) override {}
  void docPI(const XMLCh* const, const XMLCh* const) override {}
  void endDocument() override {}
  void startDocument() override {}
  void resetDocument() override {}
  void ignorableWhitespace(const XMLCh* const, const XMLSize_t, const bool) override {}
  void XMLDecl(const XMLCh* const, const XMLCh* const, const XMLCh* const,
               const XMLCh* const) override {}
  void startEntityReference(const xc::XMLEntityDecl&) override {
    fail_here(Verdict::forbidden_markup, "entity references are not accepted");
    throw StopParse{};
  }
  void endEntityReference(const xc::XMLEntityDecl&) override {}

  // LexicalHandler: the second line of defence behind XERCES_DISABLE_DTD -----------------------

  void startDTD(const XMLCh* const, const XMLCh* const, const XMLCh* const) override {
    fail_here(Verdict::forbidden_markup, "document type declarations (DOCTYPE) are not accepted");
    throw StopParse{};
  }
  void endDTD() override {}
  void startEntity(const XMLCh* const) override {
    fail_here(Verdict::forbidden_markup, "entity references are not accepted");
    throw StopParse{};
  }
  void endEntity(const XMLCh* const) override {}
  void startCDATA() override {}
  void endCDATA() override {}
  void comment(const XMLCh* const, const XMLSize_t) override {}

  // EntityResolver: nothing outside the document is ever read (external DTD subset, external
  // entity, schema named by xsi:schemaLocation). A request for one refuses the document.
  xc::InputSource* resolveEntity(const XMLCh* const, const XMLCh* const) override {
    fail_here(Verdict::forbidden_markup,
              "references to external resources (DTDs, entities, schemas) are not accepted");
    throw StopParse{};
  }

  // ErrorHandler ----------------------------------------------------------------------------------

  void warning(const xc::SAXParseException&) override {}
  // Validity errors arrive here (XMLValid codes are of type "error"; with
  // fgXercesValidationErrorAsFatal the validator then ends the parse).
  void error(const xc::SAXParseException& e) override {
    std::size_t line = static_cast<std::size_t>(e.getLineNumber());
    std::size_t column = static_cast<std::size_t>(e.getColumnNumber());
    locate_failing_child(e.getMessage(), line, column);
    fail(Verdict::invalid, line, column, detail::capped_message(e.getMessage()));
  }
  // Well-formedness errors (XMLErrs fatal codes, encoding errors).
  void fatalError(const xc::SAXParseException& e) override {
    fail(Verdict::malformed, static_cast<std::size_t>(e.getLineNumber()),
         static_cast<std::size_t>(e.getColumnNumber()), detail::capped_message(e.getMessage()));
  }
  void resetErrors() override {}

 private:
  struct Frame {
    const xc::XMLElementDecl* decl = nullptr;
    std::size_t children_begin = 0;  // this element's children in children_
    std::uint32_t node = kNoNode;    // key-trie node matched by this element, if any
    bool capture = false;            // some key ends at this element: collect its text
    bool dropped_space = false;
    std::size_t text_start = 0;   // this element's text in text_: [text_start, content_end)
    std::size_t content_end = 0;  // one past its last non-space character
  };
  struct Child {
    const xc::QName* name;  // owned by the element declaration (grammar or scanner pool)
    XMLFileLoc line;
    XMLFileLoc column;
  };

  void fail_here(Verdict v, const std::string& message) {
    std::size_t line = 0;
    std::size_t column = 0;
    if (const xc::Locator* l = locator_.locator()) {
      line = static_cast<std::size_t>(l->getLineNumber());
      column = static_cast<std::size_t>(l->getColumnNumber());
    }
    fail(v, line, column, detail::capped_message(std::string_view(message)));
  }

  void end_current() {
    Frame& f = frames_[depth_];
    if (f.capture) finish_capture(f);
    if (auto why = binaries_.end(depth_)) {
      fail_here(Verdict::invalid, "element " + detail::to_utf8(f.decl->getElementName()->getLocalPart()) + ": " + *why);
    }
    children_.resize(f.children_begin);  // drop this element's children
    --depth_;
  }

  // Keys that end in an attribute of this element: its (trimmed) value, in document order.
  void capture_attributes(const Frame& f, const xc::RefVectorOf<xc::XMLAttr>& attrs, XMLSize_t count) {
    const auto& node = type_->nodes[f.node];
    for (const auto& a : node.attributes) {
      for (XMLSize_t i = 0; i < count; ++i) {
        const xc::XMLAttr* attr = attrs.elementAt(i);
        if (attr->getURIId() != a.ns_id || !detail::equals(attr->getName(), a.local)) continue;
        value_.clear();
        const XMLCh* v = attr->getValue();
        std::size_t n = xc::XMLString::stringLen(v);
        std::size_t b = 0;
        while (b < n && is_xml_space(v[b])) ++b;
        while (n > b && is_xml_space(v[n - 1])) --n;
        if (n - b > max_key_) {
          fail_here(Verdict::limit_exceeded, "value of routing key '" + type_->key_names[a.key] + "' is longer than " +
                                                 std::to_string(max_key_) + " bytes");
          throw StopParse{};
        }
        detail::append_utf8(value_, v + b, n - b);
        if (value_.size() > max_key_) {
          fail_here(Verdict::limit_exceeded, "value of routing key '" + type_->key_names[a.key] + "' is longer than " +
                                                 std::to_string(max_key_) + " bytes");
          throw StopParse{};
        }
        out_->keys[type_->key_names[a.key]].push_back(value_);
        out_->within[type_->key_names[a.key]].push_back(within(depth_));
      }
    }
  }

  // The position, among its own key's matches, of the innermost element at `from` or above that
  // matched another key (-1: none): the value being recorded belongs to that match.
  long within(std::size_t from) const {
    for (std::size_t d = from; d >= 1; --d) {
      if (!frames_[d].capture) continue;
      const auto& ancestor = type_->nodes[frames_[d].node];
      const auto it = out_->keys.find(type_->key_names[ancestor.keys.front()]);
      return it == out_->keys.end() ? 0 : static_cast<long>(it->second.size());
    }
    return -1;
  }

  [[noreturn]] void key_too_long(const Frame& f) {
    const auto& node = type_->nodes[f.node];
    fail_here(Verdict::limit_exceeded,
              "value of routing key '" + type_->key_names[node.keys.front()] + "' is longer than " +
                  std::to_string(max_key_) + " bytes");
    throw StopParse{};
  }

  void finish_capture(Frame& f) {
    value_.clear();
    detail::append_utf8(value_, reinterpret_cast<const XMLCh*>(text_.data() + f.text_start),
                        f.content_end - f.text_start);
    text_.resize(f.text_start);
    if (value_.size() > max_key_) key_too_long(f);
    // The innermost open ancestor that matched a key: this value belongs to its current match
    // (that key's matches so far, since the ancestor's own value is recorded at its end tag).
    const long inside = within(depth_ - 1);
    for (std::uint32_t k : type_->nodes[f.node].keys) {
      out_->keys[type_->key_names[k]].push_back(value_);
      out_->within[type_->key_names[k]].push_back(inside);
    }
  }

  // Xerces checks an element's content model at its end tag and reports "element 'X' is not
  // allowed for content model ..." at that end tag. Re-run the same content model over the
  // children recorded for the element to find which child failed, and report where that child
  // starts. Falls back to Xerces' position whenever the answer is not certain (for example an
  // xsi:type that changed the content model).
  void locate_failing_child(const XMLCh* message, std::size_t& line, std::size_t& column) {
    if (depth_ == 0 || message == nullptr) return;
    static const std::u16string_view kPrefix = u"element '";
    static const std::u16string_view kInfix = u"' is not allowed for content model";
    const std::u16string_view msg(reinterpret_cast<const char16_t*>(message));
    if (msg.substr(0, kPrefix.size()) != kPrefix) return;
    const auto name_end = msg.find(kInfix, kPrefix.size());
    if (name_end == std::u16string_view::npos) return;
    const std::u16string_view failing_name = msg.substr(kPrefix.size(), name_end - kPrefix.size());

    const Frame& f = frames_[depth_];
    const std::size_t count = children_.size() - f.children_begin;
    if (f.decl == nullptr || count == 0) return;
    try {
      auto* decl = const_cast<xc::XMLElementDecl*>(f.decl);
      xc::XMLContentModel* model = decl->getContentModel();
      if (model == nullptr) return;
      if (resolvers_.size() <= pool_) resolvers_.resize(set_.pools.size());
      auto& resolver = resolvers_[pool_];
      if (!resolver) {
        resolver = std::make_unique<xc::GrammarResolver>(set_.pools[pool_]->grammars.get(),
                                                         xc::XMLPlatformUtils::fgMemoryManager);
        resolver->useCachedGrammarInParse(true);
      }
      names_.clear();
      for (std::size_t i = f.children_begin; i < children_.size(); ++i) {
        names_.push_back(const_cast<xc::QName*>(children_[i].name));
      }
      XMLSize_t failing = count;
      const bool ok = model->validateContentSpecial(
          names_.data(), count, set_.pools[pool_]->empty_ns_id, resolver.get(), resolver->getStringPool(),
          &failing, xc::XMLPlatformUtils::fgMemoryManager);
      if (ok || failing >= count) return;
      const Child& c = children_[f.children_begin + failing];
      if (std::u16string_view(reinterpret_cast<const char16_t*>(c.name->getRawName())) !=
          failing_name) {
        return;
      }
      line = static_cast<std::size_t>(c.line);
      column = static_cast<std::size_t>(c.column);
    } catch (...) {  // keep Xerces' position
    }
  }

  const SchemaSet::Impl& set_;
  const LocatorSink& locator_;
  const std::size_t max_depth_;
  const std::size_t max_key_;

  // Per document.
  Outcome* out_ = nullptr;
  std::size_t pool_ = 0;
  std::size_t size_ = 0;              // the document's bytes (a type's own limit)
  detail::BinaryChecks binaries_;     // declared sizes and formats of binary objects
  const detail::CompiledType* type_ = nullptr;
  bool failed_ = false;
  bool root_seen_ = false;
  std::size_t depth_ = 0;
  std::vector<Frame> frames_;    // frames_[d] = open element at depth d (root = 1)
  std::vector<Child> children_;  // children of the open elements, innermost parent last
  std::u16string text_;          // text of the elements being captured, innermost last
  std::string value_;

  // Failure path only (one per pool).
  std::vector<std::unique_ptr<xc::GrammarResolver>> resolvers_;
  std::vector<xc::QName*> names_;
};

}  // namespace

// --- Validator -----------------------------------------------------------------------------------

struct Validator::Impl {
  std::shared_ptr<const SchemaSet> schemas;
  xc::SecurityManager security;
  LocatorSink locator;
  DocumentHandler handler;
  std::vector<ReaderPtr> readers;  // one per grammar pool, created on first need
  xc::MemBufInputSource source;
  std::unique_ptr<RootProbe> probe;  // created on first need

  explicit Impl(std::shared_ptr<const SchemaSet> s)
      : schemas(std::move(s)),
        handler(schemas->impl(), locator),
        source(kNoBytes, 0, kBufferId, false, xc::XMLPlatformUtils::fgMemoryManager) {
    ++detail::live_xerces_objects;
    security.setEntityExpansionLimit(kEntityExpansionLimit);
    source.setCopyBufToStream(false);  // parse the caller's buffer in place
    readers.resize(schemas->impl().pools.size());
  }
  ~Impl() {
    probe.reset();
    readers.clear();
    --detail::live_xerces_objects;
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // The validating reader bound to grammar pool `p`.
  xc::SAX2XMLReaderImpl& reader(std::size_t p) {
    auto& r = readers[p];
    if (r) return *r;
    // What XMLReaderFactory::createXMLReader(memMgr, pool) creates, with its concrete type, which
    // offers installAdvDocHandler.
    r = std::make_unique<xc::SAX2XMLReaderImpl>(xc::XMLPlatformUtils::fgMemoryManager,
                                                schemas->impl().pools[p]->grammars.get());
    harden(*r, security);
    r->setFeature(xc::XMLUni::fgSAX2CoreValidation, true);
    r->setFeature(xc::XMLUni::fgXercesDynamic, false);  // always validate
    r->setFeature(xc::XMLUni::fgXercesSchema, true);
    r->setFeature(xc::XMLUni::fgXercesSchemaFullChecking, false);
    r->setFeature(xc::XMLUni::fgXercesUseCachedGrammarInParse, true);
    r->setFeature(xc::XMLUni::fgXercesValidationErrorAsFatal, true);
    r->setFeature(xc::XMLUni::fgXercesIdentityConstraintChecking, true);
    r->setContentHandler(&locator);
    r->installAdvDocHandler(&handler);
    r->setErrorHandler(&handler);
    r->setLexicalHandler(&handler);
    r->setEntityResolver(&handler);
    return *r;
  }

  // Which pool validates `doc`: the pool of the type its root names (read from the bytes, or by
  // a non-validating reader for another encoding); the first pool when the root names no type,
  // which then refuses it as the single-pool parse always has.
  std::size_t pool_for(std::string_view doc) {
    const auto& set = schemas->impl();
    if (set.pools.size() < 2) return 0;
    if (auto root = detail::sniff_root(doc)) {
      if (auto p = set.pool_of_root(root->first, root->second)) return *p;
      return 0;
    }
    if (!probe) probe = std::make_unique<RootProbe>(security);
    if (auto root = probe->root_of(doc)) {
      if (const auto* t = set.find_root(detail::xc(root->first), detail::xc(root->second))) return t->pool;
    }
    return 0;
  }
};

Validator::Validator(std::shared_ptr<const SchemaSet> schemas) {
  if (!schemas) throw std::invalid_argument("Validator needs a SchemaSet");
  impl_ = std::make_unique<Impl>(std::move(schemas));
}

Validator::~Validator() = default;

const std::shared_ptr<const SchemaSet>& Validator::schemas() const noexcept {
  return impl_->schemas;
}

Outcome Validator::validate(std::string_view document) {
  Outcome out;
  auto& h = impl_->handler;
  if (document.empty()) {
    out.verdict = Verdict::malformed;
    out.issues.push_back(Issue{1, 1, "empty document"});
    return out;
  }
  const auto& limits = impl_->schemas->limits();
  auto finding = detail::check_declared_encoding(document);
  if (!finding) finding = detail::check_namespaces(document, limits.max_namespaces, limits.max_namespace_uri_length);
  if (finding) {
    out.verdict = finding->verdict;
    out.issues.push_back(Issue{finding->line, 1, std::move(finding->message)});
    return out;
  }
  const auto pool = impl_->pool_for(document);
  h.begin(out, pool, document.size());
  try {
    impl_->source.resetMemBufInputSource(reinterpret_cast<const XMLByte*>(document.data()),
                                         document.size());
    impl_->reader(pool).parse(impl_->source);
  } catch (const StopParse&) {
    // the handler recorded why
  } catch (const xc::OutOfMemoryException&) {
    h.fail(Verdict::limit_exceeded, 0, 0, "parser out of memory");
  } catch (const std::bad_alloc&) {
    h.fail(Verdict::limit_exceeded, 0, 0, "out of memory");
  } catch (const xc::XMLException& e) {
    h.fail(Verdict::malformed, 0, 0, detail::capped_message(e.getMessage()));
  } catch (const xc::SAXException& e) {
    h.fail(Verdict::malformed, 0, 0, detail::capped_message(e.getMessage()));
  } catch (const std::exception& e) {
    // Xerces throws only the types above: anything else is the hub's own bug, never the
    // document's fault, so it is not dressed up as "malformed" (the fuzz targets see it as a 500).
    if (auto lg = spdlog::get("validation")) lg->error("validator failed with an internal error: {}", e.what());
    h.fail(Verdict::internal_error, 0, 0, "internal error while validating");
    out.verdict = Verdict::internal_error;  // even after an earlier finding about the document
  } catch (...) {
    if (auto lg = spdlog::get("validation")) lg->error("validator failed with an unknown exception");
    h.fail(Verdict::internal_error, 0, 0, "internal error while validating");
    out.verdict = Verdict::internal_error;
  }

  if (!h.failed()) {
    if (!h.root_seen()) h.fail(Verdict::malformed, 1, 1, "no root element");
    return out;
  }
  if (!h.root_seen()) {
    if (out.verdict == Verdict::malformed && detail::prolog_has_doctype(document)) {
      // XERCES_DISABLE_DTD reports a DOCTYPE as the fatal error "invalid document structure".
      Issue first = out.issues.empty() ? Issue{} : out.issues.front();
      first.message = "document type declarations (DOCTYPE) are not accepted";
      out.verdict = Verdict::forbidden_markup;
      out.issues.assign(1, std::move(first));
    } else if (out.verdict == Verdict::invalid) {
      // Xerces validated the root's start tag before handing it over: find out whether the root
      // is a registered type at all.
      if (!impl_->probe) impl_->probe = std::make_unique<RootProbe>(impl_->security);
      if (auto root = impl_->probe->root_of(document)) {
        const auto* type =
            impl_->schemas->impl().find_root(detail::xc(root->first), detail::xc(root->second));
        if (type == nullptr) {
          Issue first = out.issues.empty() ? Issue{} : out.issues.front();
          first.message = detail::capped_message(
              "root element {" + detail::to_utf8(detail::xc(root->first)) + "}" +
              detail::to_utf8(detail::xc(root->second)) + " is not a registered message type");
          out.verdict = Verdict::unknown_type;
          out.issues.assign(1, std::move(first));
        } else {
          out.type_name = type->name;
        }
      }
    }
  }
  return out;
}

Validator& Validator::for_this_thread(const std::shared_ptr<const SchemaSet>& schemas) {
  thread_local std::unique_ptr<Validator> cached;
  if (!cached || cached->schemas().get() != schemas.get()) {
    cached.reset();  // release the old parser (and its SchemaSet) before building the new one
    cached = std::make_unique<Validator>(schemas);
  }
  return *cached;
}

}  // namespace cjhub::validation

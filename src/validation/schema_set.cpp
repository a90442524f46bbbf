// Xerces start-up, grammar pool loading (SchemaSet::load) and compilation of routing-key paths.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <xercesc/framework/LocalFileInputSource.hpp>
#include <xercesc/framework/MemBufInputSource.hpp>
#include <xercesc/framework/XMLGrammarPoolImpl.hpp>
#include <xercesc/framework/psvi/XSElementDeclaration.hpp>
#include <xercesc/framework/psvi/XSModel.hpp>
#include <xercesc/util/XMLEntityResolver.hpp>
#include <xercesc/util/XMLResourceIdentifier.hpp>
#include <xercesc/sax/ErrorHandler.hpp>
#include <xercesc/sax/SAXParseException.hpp>
#include <xercesc/parsers/SAX2XMLReaderImpl.hpp>
#include <xercesc/sax2/SAX2XMLReader.hpp>
#include <xercesc/sax2/XMLReaderFactory.hpp>
#include <xercesc/util/OutOfMemoryException.hpp>
#include <xercesc/util/PlatformUtils.hpp>
#include <xercesc/util/StringPool.hpp>
#include <xercesc/util/XMLException.hpp>
#include <xercesc/util/XMLUni.hpp>
#include <xercesc/util/regx/RangeToken.hpp>
#include <xercesc/util/regx/RegularExpression.hpp>
#include <xercesc/validators/datatype/DatatypeValidatorFactory.hpp>
#include <xercesc/validators/datatype/ListDatatypeValidator.hpp>
#include <xercesc/validators/datatype/UnionDatatypeValidator.hpp>
#include <xercesc/validators/schema/ComplexTypeInfo.hpp>
#include <xercesc/validators/schema/SchemaAttDef.hpp>
#include <xercesc/validators/schema/SchemaElementDecl.hpp>
#include <xercesc/validators/schema/SchemaGrammar.hpp>
#include <xercesc/validators/schema/SchemaSymbols.hpp>

#include "cjhub/common/crypto.hpp"
#include "validation/internal.hpp"

namespace xc = xercesc;

namespace cjhub::validation {

namespace detail {
std::atomic<long> live_xerces_objects{0};
}  // namespace detail

using detail::xstring;

// --- small public helpers ------------------------------------------------------------------------

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::ok:
      return "ok";
    case Verdict::malformed:
      return "malformed";
    case Verdict::forbidden_markup:
      return "forbidden_markup";
    case Verdict::limit_exceeded:
      return "limit_exceeded";
    case Verdict::unknown_type:
      return "unknown_type";
    case Verdict::invalid:
      return "invalid";
    case Verdict::too_large:
      return "too_large";
    case Verdict::internal_error:
      return "internal_error";
  }
  return "unknown";
}

std::string Outcome::first(const std::string& key) const {
  auto it = keys.find(key);
  if (it == keys.end() || it->second.empty()) return {};
  return it->second.front();
}

// --- XercesRuntime -------------------------------------------------------------------------------

namespace {
std::mutex runtime_mutex;
int runtime_count = 0;
}  // namespace

bool detail::runtime_active() noexcept {
  std::lock_guard lock(runtime_mutex);
  return runtime_count > 0;
}

XercesRuntime::XercesRuntime() {
  std::lock_guard lock(runtime_mutex);
  if (runtime_count++ > 0) return;
  // Debian's Xerces (CVE-2016-4463 / CVE-2018-1311 patches) reads this variable in
  // XMLScanner::scanProlog each time it meets "<!DOCTYPE" and, when it is exactly "1", reports the
  // fatal error "invalid document structure" before any part of the DTD is read. The validator's
  // LexicalHandler::startDTD is the second line of defence for builds without the patch.
  ::setenv("XERCES_DISABLE_DTD", "1", 1);
  try {
    xc::XMLPlatformUtils::Initialize();
  } catch (const xc::XMLException& e) {
    --runtime_count;
    throw std::runtime_error("Xerces-C initialisation failed: " + detail::to_utf8(e.getMessage()));
  }
}

XercesRuntime::~XercesRuntime() {
  std::lock_guard lock(runtime_mutex);
  if (--runtime_count > 0) return;
  // Parsers or grammar pools still alive (typically the thread_local Validator of the main
  // thread, destroyed after main returns): terminating now would make their destructors touch
  // freed Xerces state. Leave Xerces initialised; the process is exiting anyway.
  if (detail::live_xerces_objects.load() > 0) {
    if (auto log = spdlog::get("validation")) {
      log->debug("Xerces not terminated: {} validator objects still alive",
                 detail::live_xerces_objects.load());
    }
    return;
  }
  xc::XMLPlatformUtils::Terminate();
}

// --- SchemaSet -----------------------------------------------------------------------------------

SchemaSet::Impl::Impl() { ++detail::live_xerces_objects; }
SchemaSet::Impl::~Impl() {
  compiled.clear();
  pools.clear();
  --detail::live_xerces_objects;
}

std::optional<std::size_t> SchemaSet::Impl::pool_of_root(std::string_view uri, std::string_view local) const {
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (types[i].root_local_name == local && types[i].root_namespace == uri) return compiled[i].pool;
  }
  return std::nullopt;
}

SchemaSet::SchemaSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SchemaSet::~SchemaSet() = default;

const std::vector<MessageTypeSpec>& SchemaSet::types() const noexcept { return impl_->types; }
const Limits& SchemaSet::limits() const noexcept { return impl_->limits; }
std::size_t SchemaSet::grammar_count() const noexcept { return impl_->grammar_count; }
std::size_t SchemaSet::pool_count() const noexcept { return impl_->pools.size(); }
const std::vector<std::string>& SchemaSet::warnings() const noexcept { return impl_->warnings; }
std::size_t SchemaSet::namespace_pool_growth() const noexcept {
  std::size_t growth = 0;
  for (const auto& p : impl_->pools) {
    const unsigned int now = p->grammars->getURIStringPool()->getStringCount();
    growth += now > p->uri_count_at_load ? now - p->uri_count_at_load : 0;
  }
  return growth;
}
std::size_t SchemaSet::namespace_pool_bytes() const noexcept {
  std::size_t bytes = 0;
  for (const auto& p : impl_->pools) {
    auto* uris = p->grammars->getURIStringPool();
    const unsigned int now = uris->getStringCount();  // ids run from 1 to the count; none is removed
    std::lock_guard lock(p->uri_bytes_mutex);
    try {
      for (auto id = std::max(p->uri_bytes_counted_to, p->uri_count_at_load) + 1; id <= now; ++id) {
        p->uri_bytes += (xc::XMLString::stringLen(uris->getValueForId(id)) + 1) * sizeof(XMLCh);
        p->uri_bytes_counted_to = id;
      }
    } catch (...) {
      // An id that is not there (cannot happen with a pool that only grows): count what was counted.
    }
    bytes += p->uri_bytes;
  }
  return bytes;
}

namespace {

[[noreturn]] void load_error(const std::string& msg) { throw SchemaLoadError(msg); }

std::string type_label(const MessageTypeSpec& t) { return "message type '" + t.name + "'"; }

// Collects the problems Xerces reports while it reads an XSD (and its imports/includes).
class LoadErrorCollector final : public xc::ErrorHandler {
 public:
  void warning(const xc::SAXParseException& e) override { warnings_.push_back(format(e)); }
  void error(const xc::SAXParseException& e) override { errors_.push_back(format(e)); }
  void fatalError(const xc::SAXParseException& e) override { errors_.push_back(format(e)); }
  void resetErrors() override {
    errors_.clear();
    warnings_.clear();
  }
  // The same problem met again (a conflicting namespace imported by several files) is said once.
  void add(std::string msg) {
    if (std::find(errors_.begin(), errors_.end(), msg) == errors_.end()) errors_.push_back(std::move(msg));
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  static std::string format(const xc::SAXParseException& e) {
    std::string where = detail::to_utf8(e.getSystemId());
    if (where.rfind("file://", 0) == 0) where.erase(0, 7);
    return where + ":" + std::to_string(e.getLineNumber()) + ":" +
           std::to_string(e.getColumnNumber()) + ": " + detail::capped_message(e.getMessage(), 500);
  }

  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

// Which file supplied each namespace in one pool. A pool holds one definition per namespace: a
// second, different file for a namespace already supplied (another IEPD's subset of niem-core,
// say) would be merged or ignored depending on the order of loading, so it is an error naming both
// files. An identical copy is the same definition.
class NamespaceSuppliers {
 public:
  // Empty when fine, else the error.
  std::string record(const std::string& ns, const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto digest = to_hex(sha256(bytes));
    const auto [it, inserted] = by_ns_.try_emplace(ns, file.string(), digest);
    if (inserted || it->second.second == digest) return {};
    return "namespace " + ns + " is supplied by two different files, " + it->second.first + " and " + file.string() +
           " (one grammar pool holds one definition per namespace: give each exchange its own schema files, "
           "and its types get a pool of their own)";
  }

 private:
  std::map<std::string, std::pair<std::string, std::string>> by_ns_;  // ns -> (file, sha256)
};

std::filesystem::path without_file_scheme(std::string s) {
  if (s.rfind("file://", 0) == 0) s.erase(0, 7);
  return std::filesystem::path(s);
}

// Schema documents are configuration and are read from the local file system only: an import or
// include that points at the network is refused (start-up must not depend on, or leak to, a
// remote host). Local locations are resolved against the including file and normalised, so one
// file reached as a/b and a//b is read once; a location that does not exist or uses backslashes
// is an error (Xerces would only warn, and load the schema without it).
class LocalOnlySchemaResolver final : public xc::XMLEntityResolver {
 public:
  LocalOnlySchemaResolver(LoadErrorCollector& errors, NamespaceSuppliers& suppliers)
      : errors_(errors), suppliers_(suppliers) {}

  xc::InputSource* resolveEntity(xc::XMLResourceIdentifier* id) override {
    const XMLCh* system_id = id->getSystemId();
    const std::string sys = detail::to_utf8(system_id);
    if (sys.empty()) return nullptr;  // an import without a location: the pool may have it
    const auto colon = sys.find(':');
    const auto slash = sys.find('/');
    const bool has_scheme =
        colon != std::string::npos && colon > 1 && (slash == std::string::npos || colon < slash);
    if (has_scheme && sys.rfind("file:", 0) != 0) {
      return refuse("refusing to fetch '" + detail::capped_message(sys, 200) + "' (only local schema files are loaded)",
                    system_id);
    }
    const std::string from = detail::to_utf8(id->getBaseURI());
    if (sys.find('\\') != std::string::npos) {
      return refuse(from + ": schemaLocation '" + detail::capped_message(sys, 200) +
                        "' contains a backslash: schema locations are URIs and separate directories with '/'",
                    system_id);
    }
    std::filesystem::path file = without_file_scheme(sys);
    if (file.is_relative()) file = without_file_scheme(from).parent_path() / file;
    file = file.lexically_normal();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return refuse(from + ": schemaLocation '" + detail::capped_message(sys, 200) + "' names " + file.string() +
                        ", which does not exist",
                    system_id);
    }
    if (id->getResourceIdentifierType() == xc::XMLResourceIdentifier::SchemaImport) {
      if (auto conflict = suppliers_.record(detail::to_utf8(id->getNameSpace()), file); !conflict.empty()) {
        errors_.add(conflict);
      }
    }
    xstring path;
    if (!detail::utf8_to_utf16(file.string(), path)) return refuse(file.string() + ": path is not UTF-8", system_id);
    return new xc::LocalFileInputSource(detail::xc(path));
  }

 private:
  xc::InputSource* refuse(std::string why, const XMLCh* system_id) {
    errors_.add(std::move(why));
    // An empty document: Xerces reports it as unreadable and the load fails.
    static const XMLByte kEmpty[] = {0};
    return new xc::MemBufInputSource(kEmpty, 0, system_id);
  }

  LoadErrorCollector& errors_;
  NamespaceSuppliers& suppliers_;
};

// "pfx:Local/pfx:Local/..." -> steps (namespace URI, local name), checked against the type's
// namespace map.
// One step of a key path: an element, or (last step only) an attribute.
struct Step {
  xstring ns;
  xstring local;
  bool attribute = false;
};

// "pfx:Local/Local/.../@pfx:name" -> steps, checked against the type's namespace map. An
// unprefixed element step is in the namespace mapped to "" if there is one, else in no namespace
// (an unqualified element); an unprefixed attribute is in no namespace, as XML says.
std::vector<Step> compile_path(const MessageTypeSpec& t, const KeySpec& k) {
  const std::string where = type_label(t) + ", key '" + k.name + "' (path '" + k.path + "')";
  if (k.path.empty()) load_error(where + ": empty path");
  std::vector<Step> steps;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = k.path.find('/', start);
    std::string step = k.path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (step.empty()) load_error(where + ": empty step");
    Step out;
    if (step.front() == '@') {
      if (end != std::string::npos) load_error(where + ": an attribute step ('" + step + "') must be the last");
      if (steps.empty()) load_error(where + ": an attribute step needs an element before it");
      out.attribute = true;
      step.erase(0, 1);
    }
    std::string prefix;
    std::string local = step;
    if (auto c = step.find(':'); c != std::string::npos) {
      prefix = step.substr(0, c);
      local = step.substr(c + 1);
      if (prefix.empty()) load_error(where + ": empty prefix in step '" + step + "'");
    }
    if (local.empty() || local.find_first_of(":*[]@()=\"' \t\r\n") != std::string::npos ||
        local == "." || local == "..") {
      load_error(where + ": step '" + step + "' is not a qualified element or attribute name");
    }
    std::string uri;
    if (!prefix.empty()) {
      auto ns = t.namespaces.find(prefix);
      if (ns == t.namespaces.end()) load_error(where + ": undeclared prefix '" + prefix + "'");
      uri = ns->second;
    } else if (!out.attribute) {
      if (auto ns = t.namespaces.find(""); ns != t.namespaces.end()) uri = ns->second;
    }
    if (!detail::utf8_to_utf16(uri, out.ns) || !detail::utf8_to_utf16(local, out.local)) {
      load_error(where + ": not valid UTF-8");
    }
    steps.push_back(std::move(out));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return steps;
}

detail::KeyNode make_node(const xstring& ns, const xstring& local) {
  detail::KeyNode n;
  n.ns = ns;
  n.local = local;
  return n;
}

detail::CompiledType compile_type(const MessageTypeSpec& t) {
  detail::CompiledType c;
  c.name = t.name;
  c.max_body_bytes = t.max_body_bytes;
  if (!detail::utf8_to_utf16(t.root_namespace, c.ns) ||
      !detail::utf8_to_utf16(t.root_local_name, c.local)) {
    load_error(type_label(t) + ": root name is not valid UTF-8");
  }
  if (c.local.empty()) load_error(type_label(t) + ": empty root element name");
  c.nodes.push_back(make_node(c.ns, c.local));
  std::set<std::string> names;
  for (const auto& k : t.keys) {
    if (k.name.empty()) load_error(type_label(t) + ": a key has an empty name");
    if (!names.insert(k.name).second)
      load_error(type_label(t) + ": duplicate key '" + k.name + "'");
    const auto steps = compile_path(t, k);
    if (steps.front().ns != c.ns || steps.front().local != c.local) {
      load_error(type_label(t) + ", key '" + k.name + "' (path '" + k.path +
                 "'): the first step must be the root element {" + t.root_namespace + "}" +
                 t.root_local_name);
    }
    std::uint32_t node = 0;
    const bool attribute = steps.back().attribute;
    const std::size_t elements = attribute ? steps.size() - 1 : steps.size();
    for (std::size_t i = 1; i < elements; ++i) {
      std::uint32_t next = 0;
      for (auto child : c.nodes[node].children) {
        if (c.nodes[child].ns == steps[i].ns && c.nodes[child].local == steps[i].local) {
          next = child;
          break;
        }
      }
      if (next == 0) {
        next = static_cast<std::uint32_t>(c.nodes.size());
        c.nodes.push_back(make_node(steps[i].ns, steps[i].local));
        c.nodes[node].children.push_back(next);
      }
      node = next;
    }
    const auto key = static_cast<std::uint32_t>(c.key_names.size());
    if (attribute) {
      c.nodes[node].attributes.push_back({steps.back().ns, steps.back().local, 0, key});
    } else {
      c.nodes[node].keys.push_back(key);
    }
    c.key_names.push_back(k.name);
  }
  return c;
}

// --- everything Xerces would otherwise build lazily, and racily, while validating ------------
//
// A shared, locked grammar pool is read-only for validation except for a few structures Xerces
// builds on first use without a lock: the character-class maps of pattern facets (two threads
// building one map at once trip an assertion that aborts the process), and the printable content
// models used in error messages. They are built here, once, before the set is shared.

// RegularExpression keeps its token tree protected.
struct RegexParts : xc::RegularExpression {
  static xc::Token* tree(const xc::RegularExpression& r) { return r.*(&RegexParts::fTokenTree); }
  static xc::RangeToken* first_char(const xc::RegularExpression& r) { return r.*(&RegexParts::fFirstChar); }
  static xc::RangeToken* word_range() { return RegexParts::fWordRange; }
};

// ... and so does DatatypeValidator its compiled pattern.
struct DatatypeParts : xc::DatatypeValidator {
  static xc::RegularExpression* regex(const xc::DatatypeValidator& d) { return (d.*(&DatatypeParts::getRegex))(); }
};

class LazyPartsBuilder {
 public:
  void token(xc::Token* t) {
    if (t == nullptr || !tokens_.insert(t).second) return;
    const auto type = t->getTokenType();
    if (type == xc::Token::T_RANGE || type == xc::Token::T_NRANGE) static_cast<xc::RangeToken*>(t)->createMap();
    for (XMLSize_t i = 0; i < t->size(); ++i) token(t->getChild(i));
  }

  void datatype(xc::DatatypeValidator* dv) {
    if (dv == nullptr || !datatypes_.insert(dv).second) return;
    if (const xc::RegularExpression* re = DatatypeParts::regex(*dv)) {
      token(RegexParts::tree(*re));
      token(RegexParts::first_char(*re));
    }
    datatype(dv->getBaseValidator());
    if (dv->getType() == xc::DatatypeValidator::Union) {
      if (auto* members = static_cast<xc::UnionDatatypeValidator*>(dv)->getMemberTypeValidators()) {
        for (XMLSize_t i = 0; i < members->size(); ++i) datatype(members->elementAt(i));
      }
    } else if (dv->getType() == xc::DatatypeValidator::List) {
      datatype(static_cast<xc::ListDatatypeValidator*>(dv)->getItemTypeDTV());
    }
  }

  void attributes(const xc::XMLAttDefList& list) {
    for (XMLSize_t i = 0; i < list.getAttDefCount(); ++i) {
      datatype(static_cast<const xc::SchemaAttDef&>(list.getAttDef(i)).getDatatypeValidator());
    }
  }

  void complex_type(xc::ComplexTypeInfo* ct) {
    if (ct == nullptr || !types_.insert(ct).second) return;
    datatype(ct->getDatatypeValidator());
    attributes(ct->getAttDefList());
    ct->getFormattedContentModel();
    complex_type(ct->getBaseComplexTypeInfo());
  }

  void grammar(xc::SchemaGrammar& g) {
    if (auto* factory = g.getDatatypeRegistry()) each(factory->getUserDefinedRegistry(), [&](auto& dv) { datatype(&dv); });
    each(g.getComplexTypeRegistry(), [&](auto& ct) { complex_type(&ct); });
    each(g.getAttributeDeclRegistry(), [&](auto& a) { datatype(static_cast<xc::SchemaAttDef&>(a).getDatatypeValidator()); });
    auto elements = g.getElemEnumerator();
    while (elements.hasMoreElements()) {
      auto& e = elements.nextElement();
      datatype(e.getDatatypeValidator());
      complex_type(e.getComplexTypeInfo());
    }
  }

  void built_ins() {
    each(xc::DatatypeValidatorFactory::getBuiltInRegistry(), [&](auto& dv) { datatype(&dv); });
    token(RegexParts::word_range());
  }

  std::size_t maps() const { return tokens_.size(); }

 private:
  template <class V, class H, class F>
  static void each(xc::RefHashTableOf<V, H>* table, F f) {
    if (table == nullptr) return;
    xc::RefHashTableOfEnumerator<V, H> e(table, false);
    while (e.hasMoreElements()) f(e.nextElement());
  }

  std::set<const void*> tokens_, datatypes_, types_;
};


std::string readable_file_problem(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (!p.is_absolute()) return "is not an absolute path";
  if (!std::filesystem::exists(p, ec)) return "does not exist";
  if (!std::filesystem::is_regular_file(p, ec)) return "is not a regular file";
  std::ifstream in(p, std::ios::binary);
  if (!in) return "cannot be opened for reading";
  return {};
}


// Loads the schema files of the `members` types (which share them) into a pool of their own,
// checks their roots, records the namespace ids of their compiled types, and locks the pool.
std::unique_ptr<SchemaSet::Impl::Pool> load_pool(const std::vector<MessageTypeSpec>& types,
                                                 const std::vector<std::size_t>& members,
                                                 std::vector<detail::CompiledType>& compiled,
                                                 std::vector<std::string>& warnings) {
  auto* mm = xc::XMLPlatformUtils::fgMemoryManager;
  auto out = std::make_unique<SchemaSet::Impl::Pool>();
  auto pool = std::make_unique<xc::XMLGrammarPoolImpl>(mm);
  {
    LoadErrorCollector errors;
    NamespaceSuppliers suppliers;
    LocalOnlySchemaResolver resolver(errors, suppliers);
    // The concrete reader XMLReaderFactory would create, for setXMLEntityResolver.
    auto loader = std::make_unique<xc::SAX2XMLReaderImpl>(mm, pool.get());
    loader->setFeature(xc::XMLUni::fgSAX2CoreNameSpaces, true);
    loader->setFeature(xc::XMLUni::fgSAX2CoreValidation, true);
    loader->setFeature(xc::XMLUni::fgXercesDynamic, false);
    loader->setFeature(xc::XMLUni::fgXercesSchema, true);
    loader->setFeature(xc::XMLUni::fgXercesSchemaFullChecking, true);
    loader->setFeature(xc::XMLUni::fgXercesHandleMultipleImports, true);
    loader->setFeature(xc::XMLUni::fgXercesUseCachedGrammarInParse, true);
    loader->setFeature(xc::XMLUni::fgXercesCacheGrammarFromParse, true);
    loader->setFeature(xc::XMLUni::fgXercesLoadExternalDTD, false);
    loader->setFeature(xc::XMLUni::fgXercesIgnoreAnnotations, true);
    loader->setErrorHandler(&errors);
    loader->setXMLEntityResolver(&resolver);

    // The same file may serve several message types (one namespace, several roots): load it once.
    std::set<std::string> loaded;
    for (const auto i : members) {
      const auto& t = types[i];
      for (const auto& file : t.schema_files) {
        const std::string label = type_label(t) + ": schema file '" + file + "'";
        if (auto problem = readable_file_problem(file); !problem.empty()) {
          load_error(label + " " + problem);
        }
        // Dedupe on the real file; give Xerces the configured path (relative imports resolve
        // from where the file was configured, symlinks included).
        const std::string canonical = std::filesystem::weakly_canonical(file).string();
        if (!loaded.insert(canonical).second) continue;
        const auto normal = std::filesystem::absolute(std::filesystem::path(file)).lexically_normal();
        xstring path;
        if (!detail::utf8_to_utf16(normal.string(), path)) load_error(label + ": path is not UTF-8");

        errors.resetErrors();
        xc::Grammar* g = nullptr;
        try {
          xc::LocalFileInputSource src(detail::xc(path), mm);
          g = loader->loadGrammar(src, xc::Grammar::SchemaGrammarType, true);
        } catch (const xc::OutOfMemoryException&) {
          errors.add("out of memory");
        } catch (const xc::XMLException& e) {
          errors.add(detail::capped_message(e.getMessage(), 500));
        } catch (const xc::SAXException& e) {
          errors.add(detail::capped_message(e.getMessage(), 500));
        }
        if (!errors.errors().empty() || g == nullptr) {
          std::string msg = label + " could not be loaded";
          for (std::size_t k = 0; k < errors.errors().size() && k < 5; ++k) {
            msg += (k == 0 ? ": " : "; ") + errors.errors()[k];
          }
          if (errors.errors().size() > 5) msg += "; ...";
          if (errors.errors().empty()) msg += ": no grammar was produced";
          load_error(msg);
        }
        if (auto conflict = suppliers.record(detail::to_utf8(static_cast<xc::SchemaGrammar*>(g)->getTargetNamespace()), normal);
            !conflict.empty()) {
          load_error(label + ": " + conflict);
        }
        for (const auto& w : errors.warnings()) warnings.push_back(label + ": " + w);
      }
    }
  }

  // Every root must be a global element of its pool's grammars.
  bool changed = false;
  xc::XSModel* model = pool->getXSModel(changed);
  for (const auto i : members) {
    const auto& c = compiled[i];
    const xc::XSElementDeclaration* decl =
        model == nullptr ? nullptr
                         : model->getElementDeclaration(detail::xc(c.local), detail::xc(c.ns));
    if (decl == nullptr) {
      load_error(type_label(types[i]) + ": root element {" + types[i].root_namespace + "}" +
                 types[i].root_local_name + " is not a global element of its schema files");
    }
  }

  // Namespace ids for the hot path (see Pool::empty_ns_id). Added before the pool is locked.
  xc::XMLStringPool* uris = pool->getURIStringPool();
  out->empty_ns_id = uris->addOrFind(xc::XMLUni::fgZeroLenString);
  // The URIs every scanner registers when it starts, so that they are not counted as growth.
  for (const XMLCh* u : {xc::XMLUni::fgUnknownURIName, xc::XMLUni::fgXMLURIName,
                         xc::XMLUni::fgXMLNSURIName, xc::SchemaSymbols::fgURI_XSI}) {
    uris->addOrFind(u);
  }
  for (const auto i : members) {
    auto& c = compiled[i];
    c.ns_id = uris->addOrFind(detail::xc(c.ns));
    for (auto& n : c.nodes) {
      n.ns_id = uris->addOrFind(detail::xc(n.ns));
      for (auto& a : n.attributes) a.ns_id = uris->addOrFind(detail::xc(a.ns));
    }
  }

  {
    auto it = pool->getGrammarEnumerator();
    while (it.hasMoreElements()) {
      it.nextElement();
      ++out->grammar_count;
    }
  }
  {
    LazyPartsBuilder build;
    build.built_ins();
    auto it = pool->getGrammarEnumerator();
    while (it.hasMoreElements()) {
      auto& g = it.nextElement();
      if (g.getGrammarType() == xc::Grammar::SchemaGrammarType) build.grammar(static_cast<xc::SchemaGrammar&>(g));
    }
  }
  pool->lockPool();
  out->uri_count_at_load = pool->getURIStringPool()->getStringCount();
  out->grammars = std::move(pool);
  return out;
}
}  // namespace

std::shared_ptr<const SchemaSet> SchemaSet::load(std::vector<MessageTypeSpec> types,
                                                 Limits limits) {
  if (!detail::runtime_active())
    load_error("Xerces is not initialised: construct an XercesRuntime first");
  if (types.empty()) load_error("no message types configured");
  if (limits.max_depth == 0) load_error("limits: max_depth must be positive");

  auto impl = std::make_unique<Impl>();
  impl->limits = limits;

  // Compile names and key paths first: cheap, and reports configuration mistakes before XSDs.
  std::set<std::string> type_names;
  for (std::size_t i = 0; i < types.size(); ++i) {
    const auto& t = types[i];
    if (t.name.empty()) load_error("a message type has an empty name");
    if (!type_names.insert(t.name).second) load_error("duplicate message type '" + t.name + "'");
    if (t.schema_files.empty()) load_error(type_label(t) + ": no schema files");
    impl->compiled.push_back(compile_type(t));
    for (std::size_t j = 0; j < i; ++j) {
      if (impl->compiled[j].ns == impl->compiled[i].ns &&
          impl->compiled[j].local == impl->compiled[i].local) {
        load_error(type_label(t) + ": same root element as message type '" + types[j].name + "'");
      }
    }
  }

  // Types that list the same root schema files (in any order) share a grammar pool.
  std::vector<std::vector<std::string>> pool_files;
  for (std::size_t i = 0; i < types.size(); ++i) {
    std::vector<std::string> files;
    for (const auto& f : types[i].schema_files) files.push_back(std::filesystem::weakly_canonical(f).string());
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    auto it = std::find(pool_files.begin(), pool_files.end(), files);
    impl->compiled[i].pool = static_cast<std::size_t>(it - pool_files.begin());
    if (it == pool_files.end()) pool_files.push_back(std::move(files));
  }
  for (std::size_t p = 0; p < pool_files.size(); ++p) {
    std::vector<std::size_t> members;
    for (std::size_t i = 0; i < types.size(); ++i) {
      if (impl->compiled[i].pool == p) members.push_back(i);
    }
    impl->pools.push_back(load_pool(types, members, impl->compiled, impl->warnings));
    impl->pools.back()->root_files = pool_files[p];
    impl->grammar_count += impl->pools.back()->grammar_count;
  }
  impl->types = std::move(types);

  if (auto log = spdlog::get("validation")) {
    for (const auto& w : impl->warnings) log->warn("{}", w);
    log->info("loaded {} message types, {} grammars in {} pool(s)", impl->types.size(), impl->grammar_count,
              impl->pools.size());
  }
  return std::shared_ptr<const SchemaSet>(new SchemaSet(std::move(impl)));
}

}  // namespace cjhub::validation

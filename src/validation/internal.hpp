// Internals shared by the validation translation units (not part of the public interface).
#pragma once

#include <atomic>
#include <cjhub/validation/validator.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <xercesc/framework/XMLGrammarPool.hpp>
#include <xercesc/util/XercesDefs.hpp>

namespace cjhub::validation::detail {

static_assert(sizeof(XMLCh) == sizeof(char16_t), "Xerces must be built with 16-bit XMLCh");
using xstring = std::u16string;

// --- text helpers (text.cpp) -------------------------------------------------------------------

// Strict UTF-8 -> UTF-16 (for configuration strings). Returns false on invalid UTF-8.
bool utf8_to_utf16(std::string_view in, xstring& out);
// UTF-16 -> UTF-8; unpaired surrogates become U+FFFD. Appends to `out`.
void append_utf8(std::string& out, const XMLCh* s, std::size_t n);
std::string to_utf8(const XMLCh* s);
// A message for an Issue: at most `max_bytes` bytes of UTF-8, control characters replaced by
// spaces, cut on a character boundary with "..." when longer. Reads at most a bounded prefix of
// `s`, so a parser message that quotes a huge value costs nothing.
inline constexpr std::size_t kMaxMessageBytes = 300;
std::string capped_message(const XMLCh* s, std::size_t max_bytes = kMaxMessageBytes);
std::string capped_message(std::string_view utf8, std::size_t max_bytes = kMaxMessageBytes);

inline bool equals(const XMLCh* a, const xstring& b) noexcept {
  if (a == nullptr) return b.empty();
  const char16_t* p = reinterpret_cast<const char16_t*>(a);
  std::size_t i = 0;
  const std::size_t n = b.size();
  for (; i < n; ++i) {
    if (p[i] != b[i]) return false;  // also stops at a's terminator (b holds no NUL)
  }
  return p[n] == 0;
}

inline const XMLCh* xc(const xstring& s) noexcept {
  return reinterpret_cast<const XMLCh*>(s.c_str());
}

// Whether the prolog of `doc` (before the root element) contains a document type declaration.
// Understands UTF-8/ASCII (with or without BOM) and UTF-16 LE/BE. Used only to classify a
// document that failed before its root element.
bool prolog_has_doctype(std::string_view doc);

// What a check before parsing found wrong, if anything.
struct PrecheckFinding {
  Verdict verdict;
  std::size_t line;
  std::string message;
};
// Counts the namespace declarations of `doc` before Xerces sees it (Xerces keeps every URI it
// meets in a pool shared by all parsers): more than `max_distinct` distinct URIs, or one longer
// than `max_uri_units` characters, is a finding. Reads the encodings CodeUnitReader knows; an
// EBCDIC document is refused. Comments, CDATA sections, processing instructions and quoted
// attribute values are skipped, so text that merely looks like a declaration does not count.
std::optional<PrecheckFinding> check_namespaces(std::string_view doc, std::size_t max_distinct,
                                               std::size_t max_uri_units);
// An XML declaration whose encoding contradicts the document's bytes (a UTF-8 byte order mark with
// encoding="UTF-16", UTF-16 bytes declared UTF-8, ...) is a finding: Xerces would trust the bytes,
// a recipient's parser might trust the declaration and read other routing keys than the hub did.
std::optional<PrecheckFinding> check_declared_encoding(std::string_view doc);

// The root element's {namespace URI, local name} read from the bytes of a UTF-8 (or ASCII)
// document without parsing it, when that is certain: nullopt for another encoding (declared or
// by its bytes), a prefix not declared on the root itself, a reference in a namespace
// declaration, or anything else unusual. Only chooses the grammar pool to validate with; the
// validating parse then judges the document as a whole.
std::optional<std::pair<std::string, std::string>> sniff_root(std::string_view doc);

// --- compiled message types ----------------------------------------------------------------------

// One node of the routing-key trie of a message type. nodes[0] is the root element.
struct KeyNode {
  xstring ns;
  xstring local;
  unsigned int ns_id = 0;               // id of `ns` in the grammar pool's URI string pool
  std::vector<std::uint32_t> children;  // indices into CompiledType::nodes
  std::vector<std::uint32_t> keys;      // indices into CompiledType::key_names ending here
  struct Attribute {                    // a key that ends in an attribute of this element
    xstring ns;                         // empty: no namespace (an unprefixed attribute)
    xstring local;
    unsigned int ns_id = 0;
    std::uint32_t key = 0;              // index into CompiledType::key_names
  };
  std::vector<Attribute> attributes;
};

struct CompiledType {
  std::string name;
  xstring ns;
  xstring local;
  std::size_t pool = 0;                // index into SchemaSet::Impl::pools
  unsigned int ns_id = 0;              // id of `ns` in its grammar pool's URI string pool
  std::vector<KeyNode> nodes;          // the key trie, nodes[0] = root
  std::vector<std::string> key_names;  // index -> KeySpec::name
  std::size_t max_body_bytes = 0;      // MessageTypeSpec::max_body_bytes (0: none of its own)
};

// Objects that must be destroyed before XMLPlatformUtils::Terminate (parsers, pools). The
// runtime skips Terminate at exit while any are alive (e.g. a thread_local Validator of the main
// thread, which is destroyed after main returns).
extern std::atomic<long> live_xerces_objects;
// Whether an XercesRuntime is alive (Xerces initialised).
bool runtime_active() noexcept;

}  // namespace cjhub::validation::detail

namespace cjhub::validation {

struct SchemaSet::Impl {
  // The grammars of one set of root schema files. Every NIEM exchange ships its own subset of
  // niem-core (and jxdm, ...) under the same namespace URI; in one pool the first subset loaded
  // would silently win, so each distinct set of root files gets a pool of its own, and types that
  // list the same files share one.
  struct Pool {
    std::unique_ptr<xercesc::XMLGrammarPool> grammars;  // locked after load
    std::vector<std::string> root_files;                 // as configured, lexically normal
    std::size_t grammar_count = 0;
    // Ids in this pool's URI string pool. Parsers that use the (locked) pool resolve namespace
    // URIs through the same pool, so element URI ids compare directly with these.
    unsigned int empty_ns_id = 0;
    unsigned int uri_count_at_load = 0;  // size of the URI string pool when the pool was locked
    // namespace_pool_bytes(): URIs counted so far and their bytes.
    mutable std::mutex uri_bytes_mutex;
    mutable unsigned int uri_bytes_counted_to = 0;
    mutable std::size_t uri_bytes = 0;
  };

  std::vector<MessageTypeSpec> types;
  Limits limits;
  std::vector<std::unique_ptr<Pool>> pools;
  std::size_t grammar_count = 0;               // over all pools
  std::vector<detail::CompiledType> compiled;  // same order as types
  std::vector<std::string> warnings;           // what Xerces warned about while loading, with file and line

  Impl();
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  const detail::CompiledType* find_root(const XMLCh* uri, const XMLCh* local) const noexcept {
    for (const auto& t : compiled) {
      if (detail::equals(local, t.local) && detail::equals(uri, t.ns)) return &t;
    }
    return nullptr;
  }
  // A type of `pool` by the root's URI id in that pool.
  const detail::CompiledType* find_root(std::size_t pool, unsigned int uri_id, const XMLCh* local) const noexcept {
    for (const auto& t : compiled) {
      if (t.pool == pool && uri_id == t.ns_id && detail::equals(local, t.local)) return &t;
    }
    return nullptr;
  }
  // The pool for a document whose root is {uri}local (UTF-8), if a type has that root.
  std::optional<std::size_t> pool_of_root(std::string_view uri, std::string_view local) const;
};

}  // namespace cjhub::validation

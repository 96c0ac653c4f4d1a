#pragma once
// A parsed XML document from a partner, read by a parser that cannot be made to fetch,
// expand or include anything.
//
// XmlDocument::parse refuses (code MALFORMED), before the content is built into a tree:
//   - any DOCTYPE (internal subset or not): the parse stops at "<!DOCTYPE", so no entity,
//     attribute default or ID declaration is ever read; hence no entity expansion
//     ("billion laughs"), no external entity (XXE), no DTD-declared ID that could make a
//     second element look like the one a signature points at;
//   - XInclude elements (the parser never processes them; a document holding one is
//     refused rather than passed on with a link that someone later might follow);
//   - documents that are not well-formed, or larger than the limit.
// The parser runs with XML_PARSE_NONET and without NOENT, DTDLOAD, DTDATTR, XINCLUDE or
// HUGE (libxml2's default depth and text-size limits apply).
//
// libxml2 types appear in this header (xmlDoc, xmlNode): connectors read the verified
// element with libxml2 directly.
//
// Lifetime: the document owns its tree; nodes handed out are valid while the document
// lives and is not modified. Thread-safety: one thread at a time per document; any number
// of documents may be parsed and used in parallel (libxml2 is initialised once, see
// init_xml_security in xmldsig.hpp).

#include <libxml/tree.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "hub/core/result.hpp"

namespace hub::signing {

class XmlDocument {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 16 * 1024 * 1024;

  static Result<XmlDocument> parse(std::string_view bytes,
                                   std::size_t max_bytes = kDefaultMaxBytes);

  xmlDoc* get() const { return doc_.get(); }
  xmlNode* root() const;
  // The document serialized as UTF-8 with an XML declaration, as libxml2 writes it.
  std::string serialize() const;

 private:
  struct Free {
    void operator()(xmlDoc* doc) const;
  };
  std::unique_ptr<xmlDoc, Free> doc_;
};

}  // namespace hub::signing

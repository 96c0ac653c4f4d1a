#include "hub/signing/xml.hpp"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <climits>

#include "xml_runtime.hpp"
#include "xml_walk.hpp"

namespace hub::signing {
namespace {

constexpr int kParseOptions = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;

const char* const kXIncludeNamespaces[] = {"http://www.w3.org/2001/XInclude",
                                           "http://www.w3.org/2003/XInclude"};

struct ParserCtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

// What the SAX hooks saw; reached through ctxt->_private.
struct Refusal {
  std::string reason;
};

void refuse_and_stop(void* ctx, std::string reason) {
  auto* ctxt = static_cast<xmlParserCtxt*>(ctx);
  auto* refusal = static_cast<Refusal*>(ctxt->_private);
  if (refusal != nullptr && refusal->reason.empty()) refusal->reason = std::move(reason);
  xmlStopParser(ctxt);
}

// Called by libxml2 as soon as "<!DOCTYPE name ..." is read, before any declaration in
// the internal subset: stopping here means no DTD content is ever parsed.
void on_internal_subset(void* ctx, const xmlChar* name, const xmlChar*, const xmlChar*) {
  std::string n = name != nullptr ? reinterpret_cast<const char*>(name) : "";
  refuse_and_stop(ctx, "the document has a DOCTYPE (<!DOCTYPE " + n.substr(0, 64) +
                           ">): DTDs, entity declarations and external subsets are not accepted");
}

// Defence in depth: unreachable once the DOCTYPE stops the parse.
void on_entity_decl(void* ctx, const xmlChar*, int, const xmlChar*, const xmlChar*, xmlChar*) {
  refuse_and_stop(ctx, "the document declares an entity: entity declarations are not accepted");
}

std::string last_error(xmlParserCtxt* ctxt) {
  const xmlError* e = xmlCtxtGetLastError(ctxt);
  if (e == nullptr || e->message == nullptr) return "not well-formed XML";
  std::string msg = e->message;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return "not well-formed XML (line " + std::to_string(e->line) + ": " + msg + ")";
}

// The first XInclude element in document order, if any.
const xmlNode* find_xinclude(xmlNode* root) {
  const xmlNode* found = nullptr;
  detail::for_each_element(root, [&](const xmlNode* n) {
    if (found != nullptr || n->ns == nullptr || n->ns->href == nullptr) return;
    for (const char* ns : kXIncludeNamespaces) {
      if (xmlStrEqual(n->ns->href, BAD_CAST ns)) found = n;
    }
  });
  return found;
}

}  // namespace

void XmlDocument::Free::operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }

Result<XmlDocument> XmlDocument::parse(std::string_view bytes, std::size_t max_bytes) {
  detail::ensure_xml_runtime();
  if (bytes.size() > max_bytes || bytes.size() > static_cast<std::size_t>(INT_MAX))
    return make_error("MALFORMED", "the XML document has " + std::to_string(bytes.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(max_bytes));
  std::unique_ptr<xmlParserCtxt, ParserCtxtFree> ctxt(xmlNewParserCtxt());
  if (!ctxt || ctxt->sax == nullptr) throw std::bad_alloc();
  Refusal refusal;
  ctxt->_private = &refusal;
  ctxt->sax->internalSubset = on_internal_subset;
  ctxt->sax->entityDecl = on_entity_decl;
  XmlDocument out;
  out.doc_.reset(xmlCtxtReadMemory(ctxt.get(), bytes.data(), static_cast<int>(bytes.size()),
                                   nullptr, nullptr, kParseOptions));
  if (!refusal.reason.empty()) return make_error("MALFORMED", refusal.reason);
  if (!out.doc_ || !ctxt->wellFormed) return make_error("MALFORMED", last_error(ctxt.get()));
  // Belt and braces: a subset could only exist if the hook above did not run.
  if (out.doc_->intSubset != nullptr || out.doc_->extSubset != nullptr)
    return make_error("MALFORMED", "the document has a DOCTYPE: DTDs are not accepted");
  xmlNode* root = xmlDocGetRootElement(out.doc_.get());
  if (root == nullptr) return make_error("MALFORMED", "the XML document has no root element");
  if (const xmlNode* xi = find_xinclude(root))
    return make_error("MALFORMED", "the document has an XInclude element (line " +
                                       std::to_string(xi->line) + "): XInclude is not accepted");
  return out;
}

xmlNode* XmlDocument::root() const { return doc_ ? xmlDocGetRootElement(doc_.get()) : nullptr; }

std::string XmlDocument::serialize() const {
  if (!doc_) return {};
  xmlChar* mem = nullptr;
  int size = 0;
  xmlDocDumpMemoryEnc(doc_.get(), &mem, &size, "UTF-8");
  std::string out;
  if (mem != nullptr)
    out.assign(reinterpret_cast<const char*>(mem), static_cast<std::size_t>(size));
  xmlFree(mem);
  return out;
}

}  // namespace hub::signing

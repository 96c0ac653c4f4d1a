#pragma once
// Declarative field mappings (docs/mappings.md, docs/adr/0011-mappings.md).
//
// A partner's message format is described by a versioned file under mappings/, not by
// C++: which paths of the message hold which fields, each field's type and checks, the
// code lists, and the canonical command each item of the message becomes. A connector
// verifies the signature and the syntax (XSD, JSON, CSV), then hands the verified
// content to Mapping::map() as a Record; a change of a partner's format is a new mapping
// file (a new version), not new C++.
//
// Records are the view of one message part the mapping reads from: a JSON object, an
// XML element (paths are XPath relative to it, with the mapping's namespace prefixes),
// or a CSV line (paths are column names). Every refusal says where: a JSON path
// ("settlements[3].quantity"), an XPath ("/jc:CancellationNotice/jc:Cancellation[1]/
// jc:Credit[2]/jc:Quantity") or "line 17, column quantity".
//
// Lifetime and thread-safety: a Mapping / MappingSet is immutable after load and may be
// used from any number of threads at once. Records borrow what they view (the JSON value,
// the XML document, the CSV line) and must not outlive it; a Record is used by one thread.

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hub/core/result.hpp"

typedef struct _xmlNode xmlNode;

namespace hub::mapping {

// A scalar read from a message. XML and CSV values are always kString.
struct Value {
  enum class Kind { kString, kNumber, kBool, kNull, kObject, kArray };
  Kind kind = Kind::kString;
  std::string text;  // strings as they are; numbers as written; "true"/"false"/"null"
};

class Record {
 public:
  virtual ~Record() = default;
  // The one value at `path`; nullopt when absent. Error (SCHEMA_VIOLATION) when the path
  // names several nodes (XML) or is not a valid path.
  virtual Result<std::optional<Value>> get(const std::string& path) const = 0;
  // The records at `path`: the elements of a JSON array, the XML elements an XPath
  // matches. Error when the path names something that is not a list of records.
  virtual Result<std::vector<std::unique_ptr<Record>>> each(const std::string& path) const = 0;
  // Where `path` is, for a person reading a refusal.
  virtual std::string where(const std::string& path) const = 0;
  // The names of this record's direct fields (JSON members, CSV columns; XML: child
  // element and attribute names as prefix:local / @name), for "closed" records.
  virtual std::vector<std::string> field_names() const = 0;
};

// A JSON object (or any value) at `where` ("" for the payload itself, "settlements[3]").
std::unique_ptr<Record> json_record(const nlohmann::json& value, std::string where = "");
// An XML element; `namespaces` maps the prefixes used in paths to namespace URIs.
std::unique_ptr<Record> xml_record(xmlNode* element, const std::map<std::string, std::string>& namespaces);
// A CSV line: `columns` are the names of the columns (from the file's column line),
// `values` the line's fields, `line_no` its 1-based line number in the file.
std::unique_ptr<Record> csv_record(const std::vector<std::string>& columns, const std::vector<std::string>& values,
                                   std::int64_t line_no);

// What one message becomes.
struct MappedMessage {
  std::string message_id;
  std::optional<std::string> sent_at;  // RFC 3339 text as sent (checked well-formed)
  nlohmann::json fields;               // the message-level fields, typed
  nlohmann::json items;                // array of canonical commands, in message order
};

// One version of one connector's mapping: a file mappings/<connector>/v<N>.json.
class Mapping {
 public:
  // Errors: MAPPING_INVALID naming the file and the JSON path of the mistake.
  static Result<Mapping> load(const std::filesystem::path& file);
  static Result<Mapping> parse(const std::string& text, const std::string& origin);

  const std::string& connector() const;
  int version() const;
  const std::string& format() const;  // "json", "xml" or "csv"
  // The namespace prefixes for xml_record() (from the file's "namespaces").
  const std::map<std::string, std::string>& namespaces() const;
  // The XSD file named by the mapping (relative to the mapping's folder), if any.
  std::optional<std::filesystem::path> schema() const;
  bool has_message(const std::string& kind) const;

  // Maps a message of `kind` (an endpoint's kind: "settlement", "cancellation", ...).
  // Errors carry code SCHEMA_VIOLATION and a message "<where> <what>", e.g.
  // "settlements[3].quantity is 0; it must be between 1 and 10000000".
  Result<MappedMessage> map(const std::string& kind, const Record& message) const;
  // Maps one item of `kind` on its own (a CSV line), with `context` as the message-level
  // fields its templates may use. Same errors as map().
  Result<nlohmann::json> map_item(const std::string& kind, const Record& item,
                                  const nlohmann::json& context = nlohmann::json::object()) const;
  // The message id, if it can be read, for a refusal's message_id member (unverified
  // input: only for the problem document).
  std::optional<std::string> peek_message_id(const std::string& kind, const Record& message) const;

  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;
  ~Mapping();

 private:
  struct Impl;
  explicit Mapping(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every mapping under a directory (mappings/): <connector>/v<N>.json.
class MappingSet {
 public:
  // Errors: MAPPING_INVALID (a file that does not load), MAPPING_NOT_FOUND (empty dir).
  static Result<MappingSet> load_dir(const std::filesystem::path& dir);
  // The highest version of the connector's mapping, or a given one; nullptr if none.
  const Mapping* latest(const std::string& connector) const;
  const Mapping* find(const std::string& connector, int version) const;
  std::vector<const Mapping*> all() const;

 private:
  std::vector<std::shared_ptr<const Mapping>> mappings_;
};

}  // namespace hub::mapping

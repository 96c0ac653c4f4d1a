#pragma once
// Router: maps (method, path) to a handler, and path prefixes to body size limits.
//
// handle() is a pure function from Request to Response, usable without a network; the
// Server calls the same pieces (match, check_headers, dispatch) around its I/O.
// Lifetime and thread-safety: configure a Router completely (add, set_body_limit), then
// hand it to a Server, which keeps its own copy. The const members are safe to call from
// any number of threads at once; handlers themselves must be thread-safe, since the
// server calls them concurrently from its worker threads.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hub/http/message.hpp"

namespace hub::http {

using Handler = std::function<Response(const Request&, const RouteParams&)>;

// Runs once the request's head is read, before its body is: given the request with an empty
// body, it returns a Response to refuse the request without reading the body (e.g. a client
// certificate that is not registered for the connector), or nullopt to go on. Runs on a
// worker thread like the handler.
using HeadCheck = std::function<std::optional<Response>(const Request&, const RouteParams&)>;

struct Route {
  std::string method;
  std::string pattern;  // e.g. "/connectors/{connector}/v1/messages/{message_id}"
  std::vector<std::string> segments;
  Handler handler;
  HeadCheck head_check;
};

struct RouteMatch {
  enum class Outcome { kMatched, kNotFound, kMethodNotAllowed, kBadPath };
  Outcome outcome = Outcome::kNotFound;
  const Route* route = nullptr;  // when kMatched; valid while the Router lives
  RouteParams params;
  std::string allow;  // when kMethodNotAllowed: "GET, POST"

  // The label for metrics and logs: the route's pattern, or "unmatched".
  std::string label() const;
};

class Router {
 public:
  // `pattern` is a path of '/'-separated segments; a segment "{name}" binds one non-empty
  // segment of the request path. Literal segments compare exactly. The first route added
  // wins when two match. Throws std::invalid_argument on a malformed pattern (a start-up
  // error).
  Router& add(std::string method, std::string pattern, Handler handler, HeadCheck head_check = {});

  // Requests whose path starts with `path_prefix` (compared as a string: end it with '/'
  // to mean whole segments) may carry at most `bytes` of body; the longest prefix wins.
  // Paths under no prefix get ServerSettings::default_body_limit (1 MiB).
  Router& set_body_limit(std::string path_prefix, std::size_t bytes);
  std::optional<std::size_t> body_limit(std::string_view path) const;

  RouteMatch match(std::string_view method, std::string_view path) const;
  // Runs the route's HeadCheck, if any (a throwing check is answered 500).
  std::optional<Response> check_headers(const RouteMatch& m, const Request& request) const;
  // 404 / 405 / 400 problems for non-matches; otherwise the handler's response. A handler
  // that throws is answered 500 (and logged): the exception ends at this boundary.
  Response dispatch(const RouteMatch& m, const Request& request) const;
  // match + dispatch.
  Response handle(const Request& request) const;

 private:
  // shared_ptr keeps Route addresses stable when the Router is copied into a Server.
  std::vector<std::shared_ptr<const Route>> routes_;
  std::vector<std::pair<std::string, std::size_t>> limits_;
};

}  // namespace hub::http

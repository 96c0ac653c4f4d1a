#include "hub/http/router.hpp"

#include <algorithm>
#include <stdexcept>
#include <typeinfo>

#include "hub/core/log.hpp"

namespace hub::http {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  // Callers pass paths that start with '/'; the empty first segment is dropped.
  std::size_t pos = 1;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.push_back(path.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes one path segment; nullopt on a broken escape or a NUL byte.
std::optional<std::string> decode_segment(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex_value(s[i + 1]);
    int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return std::nullopt;
    out.push_back(c);
    i += 2;
  }
  return out;
}

Response internal_error(const Logger& log, const Request& request, const char* where,
                        const std::string& what) {
  // The exception text may describe internals: it goes to the log, not to the client.
  log.error(
      "handler failed",
      {{"where", where}, {"method", request.method}, {"path", request.path}, {"error", what}});
  return Response::problem(500, "INTERNAL", "", "The request could not be handled; retry later.");
}

}  // namespace

std::string RouteMatch::label() const { return route ? route->pattern : "unmatched"; }

Router& Router::add(std::string method, std::string pattern, Handler handler,
                    HeadCheck head_check) {
  if (method.empty()) throw std::invalid_argument("route " + pattern + ": empty method");
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  if (!handler) throw std::invalid_argument("route " + pattern + ": no handler");
  auto route = std::make_shared<Route>();
  route->method = std::move(method);
  for (auto seg : split_path(pattern)) {
    bool braces =
        seg.find('{') != std::string_view::npos || seg.find('}') != std::string_view::npos;
    if (braces && !is_param(seg)) {
      throw std::invalid_argument("route pattern " + pattern + ": bad segment " + std::string(seg));
    }
    route->segments.emplace_back(seg);
  }
  route->pattern = std::move(pattern);
  route->handler = std::move(handler);
  route->head_check = std::move(head_check);
  routes_.push_back(std::move(route));
  return *this;
}

Router& Router::set_body_limit(std::string path_prefix, std::size_t bytes) {
  for (auto& [prefix, limit] : limits_) {
    if (prefix == path_prefix) {
      limit = bytes;
      return *this;
    }
  }
  limits_.emplace_back(std::move(path_prefix), bytes);
  return *this;
}

std::optional<std::size_t> Router::body_limit(std::string_view path) const {
  std::optional<std::size_t> best;
  std::size_t best_len = 0;
  for (const auto& [prefix, limit] : limits_) {
    if (path.starts_with(prefix) && (!best || prefix.size() > best_len)) {
      best = limit;
      best_len = prefix.size();
    }
  }
  return best;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch m;
  if (path.empty() || path.front() != '/') {
    m.outcome = RouteMatch::Outcome::kBadPath;
    return m;
  }
  auto segments = split_path(path);
  std::vector<std::string> allowed;
  for (const auto& route : routes_) {
    if (route->segments.size() != segments.size()) continue;
    RouteParams params;
    bool ok = true;
    bool bad_escape = false;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& want = route->segments[i];
      if (is_param(want)) {
        if (segments[i].empty()) {
          ok = false;
          break;
        }
        auto value = decode_segment(segments[i]);
        if (!value) {
          ok = false;
          bad_escape = true;
          break;
        }
        params[want.substr(1, want.size() - 2)] = std::move(*value);
      } else {
        ok = want == segments[i];
      }
    }
    if (bad_escape) {
      m.outcome = RouteMatch::Outcome::kBadPath;
      return m;
    }
    if (!ok) continue;
    if (route->method != method) {
      if (std::find(allowed.begin(), allowed.end(), route->method) == allowed.end()) {
        allowed.push_back(route->method);
      }
      continue;
    }
    m.outcome = RouteMatch::Outcome::kMatched;
    m.route = route.get();
    m.params = std::move(params);
    return m;
  }
  if (!allowed.empty()) {
    m.outcome = RouteMatch::Outcome::kMethodNotAllowed;
    for (const auto& a : allowed) m.allow += (m.allow.empty() ? "" : ", ") + a;
  }
  return m;
}

std::optional<Response> Router::check_headers(const RouteMatch& m, const Request& request) const {
  if (m.outcome != RouteMatch::Outcome::kMatched || !m.route->head_check) return std::nullopt;
  static const Logger log("http");
  try {
    return m.route->head_check(request, m.params);
  } catch (const std::exception& e) {
    return internal_error(log, request, "head check", e.what());
  } catch (...) {
    return internal_error(log, request, "head check", "unknown exception");
  }
}

Response Router::dispatch(const RouteMatch& m, const Request& request) const {
  switch (m.outcome) {
    case RouteMatch::Outcome::kBadPath:
      return Response::problem(400, "MALFORMED", "",
                               "The request path is not a valid origin-form path.");
    case RouteMatch::Outcome::kNotFound:
      return Response::problem(404, "NOT_FOUND", "", "No resource at " + request.path + ".");
    case RouteMatch::Outcome::kMethodNotAllowed: {
      auto r = Response::problem(
          405, "METHOD_NOT_ALLOWED", "",
          request.method + " is not allowed on " + request.path + "; allowed: " + m.allow + ".");
      r.headers.emplace_back("Allow", m.allow);
      return r;
    }
    case RouteMatch::Outcome::kMatched:
      break;
  }
  static const Logger log("http");
  try {
    return m.route->handler(request, m.params);
  } catch (const std::exception& e) {
    return internal_error(log, request, "handler", e.what());
  } catch (...) {
    return internal_error(log, request, "handler", "unknown exception");
  }
}

Response Router::handle(const Request& request) const {
  return dispatch(match(request.method, request.path), request);
}

}  // namespace hub::http

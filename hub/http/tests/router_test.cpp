#include "hub/http/router.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace hub::http {
namespace {

Request make_request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = path;
  r.target = std::move(path);
  return r;
}

nlohmann::json body_of(const Response& r) { return nlohmann::json::parse(r.body); }

Response echo_params(const Request&, const RouteParams& params) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : params) j[k] = v;
  return Response::json(200, j);
}

TEST(RouterTest, BindsParamsFromPatternSegments) {
  Router router;
  router.add("GET", "/connectors/{connector}/v1/messages/{message_id}", echo_params);
  auto r = router.handle(make_request("GET", "/connectors/gx-market/v1/messages/M-0001"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), (nlohmann::json{{"connector", "gx-market"}, {"message_id", "M-0001"}}));
}

TEST(RouterTest, DecodesPercentEscapesInParams) {
  Router router;
  router.add("GET", "/m/{id}", echo_params);
  auto r = router.handle(make_request("GET", "/m/a%2Fb%20c"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r)["id"], "a/b c");
  EXPECT_EQ(router.handle(make_request("GET", "/m/bad%zz")).status, 400);
}

TEST(RouterTest, LiteralSegmentsMustMatchExactly) {
  Router router;
  router.add("GET", "/connectors/{connector}/v1/messages/{message_id}", echo_params);
  EXPECT_EQ(router.handle(make_request("GET", "/connectors/gx-market/v2/messages/M-1")).status,
            404);
  EXPECT_EQ(router.handle(make_request("GET", "/connectors/gx-market/v1/messages")).status, 404);
  EXPECT_EQ(router.handle(make_request("GET", "/connectors/gx-market/v1/messages/M-1/x")).status,
            404);
  EXPECT_EQ(router.handle(make_request("GET", "/connectors//v1/messages/M-1")).status, 404);
}

TEST(RouterTest, AnswersNotFoundProblemForUnknownPath) {
  Router router;
  router.add("GET", "/health",
             [](const Request&, const RouteParams&) { return Response::text(200, "ok"); });
  auto r = router.handle(make_request("GET", "/nowhere"));
  EXPECT_EQ(r.status, 404);
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(body_of(r)["code"], "NOT_FOUND");
  EXPECT_EQ(body_of(r)["status"], 404);
}

TEST(RouterTest, AnswersMethodNotAllowedWithAllowHeader) {
  Router router;
  auto ok = [](const Request&, const RouteParams&) { return Response::text(200, "ok"); };
  router.add("GET", "/items/{id}", ok).add("PUT", "/items/{id}", ok).add("POST", "/items", ok);
  auto r = router.handle(make_request("DELETE", "/items/7"));
  EXPECT_EQ(r.status, 405);
  ASSERT_NE(r.header("allow"), nullptr);
  EXPECT_EQ(*r.header("Allow"), "GET, PUT");
  EXPECT_EQ(body_of(r)["code"], "METHOD_NOT_ALLOWED");
}

TEST(RouterTest, FirstMatchingRouteWins) {
  Router router;
  router.add("GET", "/a/special",
             [](const Request&, const RouteParams&) { return Response::text(200, "literal"); });
  router.add("GET", "/a/{x}",
             [](const Request&, const RouteParams&) { return Response::text(200, "param"); });
  EXPECT_EQ(router.handle(make_request("GET", "/a/special")).body, "literal");
  EXPECT_EQ(router.handle(make_request("GET", "/a/other")).body, "param");
}

TEST(RouterTest, LongestBodyLimitPrefixWins) {
  Router router;
  router.set_body_limit("/connectors/", 1 << 20);
  router.set_body_limit("/connectors/exchange/", 64u << 20);
  EXPECT_EQ(router.body_limit("/connectors/exchange/v1/files"), 64u << 20);
  EXPECT_EQ(router.body_limit("/connectors/gx-market/v1/trades"), 1u << 20);
  EXPECT_FALSE(router.body_limit("/health").has_value());
  router.set_body_limit("/connectors/", 2048);
  EXPECT_EQ(router.body_limit("/connectors/jcm/v1/x"), 2048u);
}

TEST(RouterTest, HandlerExceptionBecomesInternalProblem) {
  Router router;
  router.add("GET", "/boom", [](const Request&, const RouteParams&) -> Response {
    throw std::runtime_error("database password is hunter2");
  });
  auto r = router.handle(make_request("GET", "/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(body_of(r)["code"], "INTERNAL");
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos)
      << "exception text must not reach the client";
}

TEST(RouterTest, HeadCheckSeesTheRequestAndParams) {
  Router router;
  router.add("POST", "/connectors/{connector}/v1/trades", echo_params,
             [](const Request& req, const RouteParams& params) -> std::optional<Response> {
               if (!req.peer.present) {
                 return Response::problem(403, "SIGNATURE_INVALID", "",
                                          "no certificate for " + params.at("connector"));
               }
               return std::nullopt;
             });
  auto req = make_request("POST", "/connectors/jcm/v1/trades");
  auto m = router.match(req.method, req.path);
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kMatched);
  EXPECT_EQ(m.label(), "/connectors/{connector}/v1/trades");
  auto refusal = router.check_headers(m, req);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 403);
  req.peer.present = true;
  EXPECT_FALSE(router.check_headers(m, req).has_value());
}

TEST(RouterTest, RejectsMalformedPatterns) {
  Router router;
  auto ok = [](const Request&, const RouteParams&) { return Response::text(200, "ok"); };
  EXPECT_THROW(router.add("GET", "no-slash", ok), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/{x", ok), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a/x{y}", ok), std::invalid_argument);
  EXPECT_THROW(router.add("GET", "/a", Handler{}), std::invalid_argument);
}

TEST(ResponseTest, ProblemIsRfc9457WithCodeAndMessageId) {
  auto r =
      Response::problem(413, "TOO_LARGE", "", "The body is larger than 1024 bytes.", "M-42", 3);
  EXPECT_EQ(r.status, 413);
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "application/problem+json");
  ASSERT_NE(r.header("cache-control"), nullptr);
  EXPECT_EQ(*r.header("cache-control"), "no-store");
  ASSERT_NE(r.header("retry-after"), nullptr);
  EXPECT_EQ(*r.header("retry-after"), "3");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["type"], "about:blank");
  EXPECT_EQ(j["title"], "Content Too Large");
  EXPECT_EQ(j["status"], 413);
  EXPECT_EQ(j["detail"], "The body is larger than 1024 bytes.");
  EXPECT_EQ(j["code"], "TOO_LARGE");
  EXPECT_EQ(j["message_id"], "M-42");
}

TEST(ResponseTest, ProblemWithoutOptionalsOmitsThem) {
  auto r = Response::problem(400, "MALFORMED", "Bad trade", "line 3: quantity must be > 0");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["title"], "Bad trade");
  EXPECT_FALSE(j.contains("message_id"));
  EXPECT_EQ(r.header("retry-after"), nullptr);
}

TEST(ResponseTest, JsonKeepsJapaneseTextAndSetHeaderReplaces) {
  auto r = Response::json(200, {{"name", "GXマーケット株式会社"}});
  EXPECT_NE(r.body.find("GXマーケット株式会社"), std::string::npos);
  r.set_header("content-type", "application/jose");
  EXPECT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(*r.header("Content-Type"), "application/jose");
}

}  // namespace
}  // namespace hub::http

#include <gtest/gtest.h>

#include "hub/signing/xml.hpp"
#include "hub/testing/test_env.hpp"

namespace {

using hub::signing::XmlDocument;

void expect_malformed(std::string_view xml, const std::string& fragment) {
  auto r = XmlDocument::parse(xml);
  ASSERT_FALSE(r.ok()) << "accepted: " << xml;
  EXPECT_EQ(r.error().code, "MALFORMED");
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(XmlParseTest, ParsesAPlainDocumentAndSerializesItBack) {
  auto doc = XmlDocument::parse(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<jc:Receipt "
      "xmlns:jc=\"urn:x\"><jc:Status>applied &amp; "
      "done</jc:Status><!-- c --><![CDATA[<raw>]]></jc:Receipt>");
  ASSERT_TRUE(doc.ok()) << doc.error().to_string();
  ASSERT_NE(doc->root(), nullptr);
  EXPECT_STREQ(reinterpret_cast<const char*>(doc->root()->name), "Receipt");
  std::string text = doc->serialize();
  EXPECT_NE(text.find("applied &amp; done"), std::string::npos) << text;
  EXPECT_NE(text.find("<![CDATA[<raw>]]>"), std::string::npos) << text;
}

TEST(XmlParseTest, RefusesEntityExpansionBeforeExpandingAnything) {
  // "Billion laughs": refused at the DOCTYPE, no entity is ever declared.
  expect_malformed(R"(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>)",
                   "DOCTYPE");
}

TEST(XmlParseTest, RefusesExternalEntitiesAndExternalDtds) {
  hub::testing::TempDir dir;
  hub::testing::write_file(dir.path() / "secret.txt", "top secret");
  std::string xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file://" +
                    (dir.path() / "secret.txt").string() + "\">]><r>&x;</r>";
  expect_malformed(xxe, "DOCTYPE");
  expect_malformed("<!DOCTYPE r SYSTEM \"http://127.0.0.1:9/evil.dtd\"><r/>", "DOCTYPE");
  expect_malformed("<!DOCTYPE r PUBLIC \"-//X//Y\" \"http://127.0.0.1:9/evil.dtd\"><r/>",
                   "DOCTYPE");
  // Even a harmless-looking DOCTYPE could declare an ID attribute: refused too.
  expect_malformed("<!DOCTYPE r><r/>", "DOCTYPE");
  expect_malformed("<!DOCTYPE r [<!ATTLIST r Id ID #IMPLIED>]><r Id=\"a\"/>", "DOCTYPE");
  // Parameter entities in the internal subset.
  expect_malformed("<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/p\"> %p;]><r/>",
                   "DOCTYPE");
}

TEST(XmlParseTest, RefusesUndeclaredEntityReferences) {
  expect_malformed("<r>&undeclared;</r>", "not well-formed");
}

TEST(XmlParseTest, RefusesXInclude) {
  expect_malformed(
      R"(<r xmlns:xi="http://www.w3.org/2001/XInclude"><a><xi:include href="file:///etc/passwd" parse="text"/></a></r>)",
      "XInclude");
  expect_malformed(
      R"(<r xmlns:xi="http://www.w3.org/2003/XInclude"><xi:include href="other.xml"/></r>)",
      "XInclude");
}

TEST(XmlParseTest, RefusesBrokenAndOversizedDocuments) {
  expect_malformed("<r><a></r>", "not well-formed");
  expect_malformed("", "not well-formed");
  expect_malformed("just text", "not well-formed");
  auto big = XmlDocument::parse("<r>" + std::string(2000, 'x') + "</r>", 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, "MALFORMED");
  EXPECT_NE(big.error().message.find("limit"), std::string::npos);
}

}  // namespace

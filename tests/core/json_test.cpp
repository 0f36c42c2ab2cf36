// Parsing JSON from outside (flags, webhooks, files) never throws and refuses
// values nested deep enough to exhaust the stack later.
#include "core/json.h"

#include <gtest/gtest.h>

namespace cadre {
namespace {

TEST(ParseJson, ReturnsTheValue) {
  auto v = parse_json(R"({"a": [1, "x]}", {"b": null}]})", "--data");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ((*v)["a"][1], "x]}");
}

TEST(ParseJson, NamesWhatWasBeingParsedOnASyntaxError) {
  auto v = parse_json("{\"a\": }", "--data");
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(v.status().is(StatusCode::kInvalidArgument));
  EXPECT_EQ(v.status().message().rfind("--data: invalid JSON", 0), 0u) << v.status().message();
}

// Found by json_schema_fuzz: the library reports a number it cannot hold as
// out_of_range, not parse_error; it must still be an error value.
TEST(ParseJson, ANumberTooLargeIsAnErrorNotACrash) {
  for (const char* text : {"111111E0555", "[1e999]", "{\"a\": -1e400}"}) {
    auto parsed = parse_json(text, "--data");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_TRUE(parsed.status().is(StatusCode::kInvalidArgument)) << parsed.status().to_string();
    EXPECT_NE(parsed.status().message().find("--data: invalid JSON"), std::string::npos) << parsed.status().message();
  }
}

TEST(ParseJson, RefusesNestingDeeperThanTheLimit) {
  std::string ok(kMaxJsonDepth, '['), deep(kMaxJsonDepth + 1, '[');
  ok += std::string(kMaxJsonDepth, ']');
  deep += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_TRUE(parse_json(ok, "x").ok());
  auto refused = parse_json(deep, "webhook body");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "webhook body: JSON nests deeper than 128 levels");
  std::string a_million(1'000'000, '[');
  EXPECT_FALSE(parse_json(a_million, "x").ok());
}

TEST(ParseJson, BracketsInsideStringsDoNotCount) {
  std::string text = "\"" + std::string(1000, '[') + "\\\"\"";
  EXPECT_TRUE(parse_json(text, "x").ok());
}

}  // namespace
}  // namespace cadre

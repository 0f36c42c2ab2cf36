// `success.revalidate` as the operator writes it: what a valid block gives,
// the defaults, every mistake reported with its field, and the snapshot:
// agents without it keep the version they had, agents with it round-trip.
#include "agents/revalidation.h"

#include <gtest/gtest.h>

#include "agents/agent.h"

namespace cadre {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

AgentDef parse(const std::string& success, Diagnostics* diagnostics) {
  LoadOptions options;
  options.known_tools = {"books.read"};
  options.tool_schemas["books.read"] = {
      {"type", "object"}, {"required", {"path"}}, {"properties", {{"path", {{"type", "string"}}}}}};
  return parse_agent("instructions: Keep the books.\nsuccess:\n" + success, "agents/clerk.yaml",
                     "clerk", options, diagnostics);
}

TEST(Revalidation, AValidBlockGivesItsFieldsAndDefaultsTo30And90Days) {
  Diagnostics diagnostics;
  AgentDef a = parse(
      "  revalidate:\n"
      "    uses: books.read\n"
      "    with: {path: \"{{ answer.file }}\"}\n"
      "    expect: \"{{ result.content == 'paid' and objective.id != '' }}\"\n",
      &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  ASSERT_TRUE(a.revalidate.has_value());
  EXPECT_EQ(a.revalidate->uses, "books.read");
  EXPECT_EQ(a.revalidate->with, (Json{{"path", "{{ answer.file }}"}}));
  EXPECT_EQ(a.revalidate->after, (std::vector<DurationMs>{30 * kDay, 90 * kDay}));
  EXPECT_EQ(horizon_label(a.revalidate->after[0]), "30d");
  auto back = AgentDef::from_json(a.to_json());
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->to_json(), a.to_json());
  EXPECT_EQ(back->version(), a.version());
}

TEST(Revalidation, AgentsWithoutItKeepTheirVersion) {
  Diagnostics diagnostics;
  AgentDef a = parse("  retries: 1\n", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_FALSE(a.to_json().contains("revalidate"));
  AgentDef b = a;
  b.revalidate = RevalidateDef{"books.read", Json::object(), "{{ result }}"};
  EXPECT_NE(a.version(), b.version());
}

TEST(Revalidation, EveryMistakeIsReportedWithItsField) {
  struct Case {
    std::string yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"  revalidate: {with: {path: x}, expect: \"{{ result }}\"}\n",
       "success.revalidate.uses: required field is missing"},
      {"  revalidate: {uses: books.raed, expect: \"{{ result }}\"}\n", "unknown tool 'books.raed'"},
      {"  revalidate: {uses: wait, expect: \"{{ result }}\"}\n",
       "must be a tool that looks at the outcome"},
      {"  revalidate: {uses: books.read, with: {path: x}}\n",
       "success.revalidate.expect: required field is missing"},
      {"  revalidate: {uses: books.read, with: {}, expect: \"{{ result }}\"}\n",
       "needs argument 'path'"},
      {"  revalidate: {uses: books.read, with: {path: x, size: 1}, expect: \"{{ result }}\"}\n",
       "size"},
      {"  revalidate: {uses: books.read, with: {path: \"{{ input.file }}\"}, expect: \"{{ result "
       "}}\"}\n",
       "'input' is not known here; a re-validation can read answer, text, objective, agent"},
      {"  revalidate: {uses: books.read, with: {path: x}, expect: \"{{ result ==\"}\n",
       "success.revalidate.expect"},
      {"  revalidate: {uses: books.read, with: {path: x}, expect: \"{{ result }}\", after: [90d, "
       "30d]}\n",
       "must be later than the one before it"},
      {"  revalidate: {uses: books.read, with: {path: x}, expect: \"{{ result }}\", after: []}\n",
       "must list 1 to 4 durations"},
      {"  revalidate: {uses: books.read, with: {path: x}, expect: \"{{ result }}\", after: "
       "[soon]}\n",
       "success.revalidate.after[0]"},
      {"  revalidate: {uses: books.read, with: {path: x}, expect: \"{{ result }}\", every: 1d}\n",
       "every"},
  };
  for (const auto& c : cases) {
    Diagnostics diagnostics;
    parse(c.yaml, &diagnostics);
    EXPECT_NE(diagnostics.to_string().find(c.expected), std::string::npos)
        << c.yaml << "gave:\n"
        << diagnostics.to_string();
  }
}

}  // namespace
}  // namespace cadre

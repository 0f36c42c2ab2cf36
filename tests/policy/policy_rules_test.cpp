// policies.yaml: parsing with every mistake named by line and field, and the
// rules' evaluation: matching, argument conditions, defaults by risk, and
// how matching rules combine (the most restrictive wins; among equals, the
// first in the file).
#include <gtest/gtest.h>

#include <string>

#include "policy/policy.h"

namespace cadre {
namespace {

Policy load(const std::string& yaml) {
  Diagnostics diagnostics;
  PolicyConfig config = parse_policies(yaml, "policies.yaml", &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  return Policy(std::move(config));
}

std::string problems(const std::string& yaml) {
  Diagnostics diagnostics;
  (void)parse_policies(yaml, "policies.yaml", &diagnostics);
  return diagnostics.to_string();
}

ToolCallRequest tool_call(const std::string& tool, RiskClass risk = RiskClass::kWrite,
                          Json args = Json::object(), const std::string& agent = "ops") {
  return {agent, "", "Refund order 42", tool, risk, std::move(args)};
}

TEST(PolicyRules, AnEmptyFileIsTheDefaults) {
  Policy policy = load("");
  EXPECT_EQ(policy.check_tool(tool_call("log", RiskClass::kRead)).outcome, PolicyOutcome::kAllow);
  EXPECT_EQ(policy.check_tool(tool_call("file.write")).outcome, PolicyOutcome::kAllow);
  PolicyDecision risky = policy.check_tool(tool_call("payments.refund", RiskClass::kIrreversible));
  EXPECT_EQ(risky.outcome, PolicyOutcome::kRequireApproval)
      << "irreversible effects ask a human by default";
  EXPECT_EQ(risky.rule, "");
  EXPECT_EQ(risky.reason, "the default for irreversible tools");
  EXPECT_EQ(risky.timeout, 24 * 3600 * 1000LL);
  EXPECT_EQ(risky.on_timeout, "reject");
  EXPECT_EQ(policy.check_model({"ops", "", "large", 1.0}).outcome, PolicyOutcome::kAllow);
}

TEST(PolicyRules, TheMostRestrictiveMatchWinsAndTheFirstOfEqualsIsReported) {
  Policy policy = load(
      "rules:\n"
      "  - {name: allow-ops, match: {agent: ops}, decision: allow}\n"
      "  - {name: ask-first, match: {tool: email.*}, decision: require_approval, reason: first}\n"
      "  - {name: ask-second, match: {tool: email.send}, decision: require_approval, reason: "
      "second}\n"
      "  - {name: no-bulk, match: {tool: email.send, args: {bulk: true}}, decision: deny, reason: "
      "no bulk mail}\n");
  PolicyDecision d = policy.check_tool(tool_call("email.send"));
  EXPECT_EQ(d.outcome, PolicyOutcome::kRequireApproval);
  EXPECT_EQ(d.rule, "ask-first");
  EXPECT_EQ(d.reason, "first");
  d = policy.check_tool(tool_call("email.send", RiskClass::kWrite, {{"bulk", true}}));
  EXPECT_EQ(d.outcome, PolicyOutcome::kDeny);
  EXPECT_EQ(d.rule, "no-bulk");
  // An allow rule overrides only the default.
  d = policy.check_tool(tool_call("payments.refund", RiskClass::kIrreversible));
  EXPECT_EQ(d.outcome, PolicyOutcome::kAllow);
  EXPECT_EQ(d.rule, "allow-ops");
  d = policy.check_tool(tool_call("payments.refund", RiskClass::kIrreversible, {}, "intern"));
  EXPECT_EQ(d.outcome, PolicyOutcome::kRequireApproval);
  EXPECT_EQ(d.rule, "");
}

TEST(PolicyRules, ArgumentConditionsHoldOnlyWhenEveryOneDoes) {
  Policy policy = load(
      "rules:\n"
      "  - name: big\n"
      "    match:\n"
      "      args:\n"
      "        amount: {gt: 100, lte: 1000}\n"
      "        currency: {in: [USD, EUR]}\n"
      "        customer.email: {matches: \"*@client.com\"}\n"
      "        tags: {contains: vip}\n"
      "        note: {exists: false}\n"
      "        channel: web\n"
      "    decision: deny\n");
  Json args = {{"amount", 500},
               {"currency", "EUR"},
               {"customer", {{"email", "ann@client.com"}}},
               {"tags", {"vip", "new"}},
               {"channel", "web"}};
  EXPECT_EQ(policy.check_tool(tool_call("pay", RiskClass::kWrite, args)).outcome,
            PolicyOutcome::kDeny);
  auto with = [&](const std::string& key, Json value) {
    Json changed = args;
    changed[key] = std::move(value);
    return policy.check_tool(tool_call("pay", RiskClass::kWrite, changed)).outcome;
  };
  EXPECT_EQ(with("amount", 100), PolicyOutcome::kAllow) << "gt is strict";
  EXPECT_EQ(with("amount", 1000), PolicyOutcome::kDeny) << "lte includes the bound";
  EXPECT_EQ(with("amount", "500"), PolicyOutcome::kAllow) << "text is not a number";
  EXPECT_EQ(with("currency", "CHF"), PolicyOutcome::kAllow);
  EXPECT_EQ(with("customer", {{"email", "ann@other.com"}}), PolicyOutcome::kAllow);
  EXPECT_EQ(with("tags", {"new"}), PolicyOutcome::kAllow);
  EXPECT_EQ(with("note", "hi"), PolicyOutcome::kAllow);
  EXPECT_EQ(with("channel", "phone"), PolicyOutcome::kAllow);
  Json missing = args;
  missing.erase("currency");
  EXPECT_EQ(policy.check_tool(tool_call("pay", RiskClass::kWrite, missing)).outcome,
            PolicyOutcome::kAllow)
      << "a missing field fails `in`";
}

TEST(PolicyRules, RulesSeparateToolCallsFromModelCalls) {
  Policy policy = load(
      "defaults: {model: require_approval}\n"
      "approvals: {timeout: 2h, on_timeout: approve}\n"
      "rules:\n"
      "  - {name: cheap, match: {tier: small}, decision: allow}\n"
      "  - {name: pricey, match: {tier: large, cost_usd: {gt: 0.5}}, decision: deny, reason: too "
      "dear}\n"
      "  - {name: refunds, match: {objective: \"*Refund*\"}, decision: require_approval, timeout: "
      "10m}\n");
  EXPECT_EQ(policy.check_model({"ops", "", "small", 9.0}).outcome, PolicyOutcome::kAllow);
  EXPECT_EQ(policy.check_model({"ops", "", "large", 0.6}).outcome, PolicyOutcome::kDeny);
  PolicyDecision d = policy.check_model({"ops", "", "large", 0.4});
  EXPECT_EQ(d.outcome, PolicyOutcome::kRequireApproval) << "the model default";
  EXPECT_EQ(d.timeout, 2 * 3600 * 1000LL);
  EXPECT_EQ(d.on_timeout, "approve");
  // A rule naming neither tools nor tiers applies to both kinds of call.
  d = policy.check_tool(tool_call("log", RiskClass::kRead));
  EXPECT_EQ(d.rule, "refunds");
  EXPECT_EQ(d.timeout, 10 * 60 * 1000LL);
  EXPECT_TRUE(policy.reads_objective_title());
  EXPECT_FALSE(
      load("rules: [{name: a, match: {tool: x}, decision: deny}]\n").reads_objective_title());
}

TEST(PolicyRules, PlaybookStepsMatchByPlaybookName) {
  Policy policy =
      load("rules:\n  - {name: digest, match: {agent: \"playbook:digest\"}, decision: deny}\n");
  ToolCallRequest call = tool_call("log", RiskClass::kRead, {}, "");
  call.playbook = "digest";
  EXPECT_EQ(policy.check_tool(call).outcome, PolicyOutcome::kDeny);
  call.playbook = "other";
  EXPECT_EQ(policy.check_tool(call).outcome, PolicyOutcome::kAllow);
}

TEST(PolicyRules, MistakesAreNamedWithTheirLineAndField) {
  EXPECT_NE(problems("rules:\n  - {name: a, decision: maybe}\n").find("policies.yaml:2"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, decision: maybe}\n")
                .find("must be allow, deny or require_approval, not 'maybe'"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a}\n").find("decision"), std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, match: {tool: x, tier: large}, decision: deny}\n")
                .find("not both"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, match: {risk: dangerous}, decision: deny}\n")
                .find("must be read, write or irreversible"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, match: {args: {n: {gt: lots}}}, decision: deny}\n")
                .find("number"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, match: {args: {n: {near: 3}}}, decision: deny}\n")
                .find("near"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, decision: deny}\n  - {name: a, decision: allow}\n")
                .find("already named 'a'"),
            std::string::npos);
  EXPECT_NE(problems("rules:\n  - {name: a, decision: deny, timeout: 1h}\n")
                .find("only a require_approval rule"),
            std::string::npos);
  EXPECT_NE(problems("approvals: {on_timeout: maybe}\n").find("must be approve or reject"),
            std::string::npos);
  EXPECT_NE(problems("rule: []\n").find("did you mean"), std::string::npos);
  EXPECT_NE(problems("- just\n- a list\n").find("mapping"), std::string::npos);
}

}  // namespace
}  // namespace cadre

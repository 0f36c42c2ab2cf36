// Workspaces and playbooks, as the operator sees them: what a valid file
// gives, every mistake a broken file reports (file:line:column: field: what),
// the bundled examples, `cadre init` and finding the workspace root.
#include "agents/workspace.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agents/example_files.h"
#include "core/config_loader.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cadre-workspace-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<std::string> lines_of(const Diagnostics& diagnostics) {
  std::vector<std::string> lines;
  std::istringstream in(diagnostics.to_string());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

PlaybookDef parse(std::string_view text, Diagnostics* diagnostics,
                  const std::string& file = "playbooks/test.yaml") {
  return parse_playbook(text, file, LoadOptions{}, diagnostics);
}

constexpr std::string_view kOnboarding = R"yaml(name: onboard-customer
description: Welcome a new customer
inputs:
  customer: {type: string, required: true, description: Account slug}
  count: {type: integer, default: 3}
  items: {type: array, default: [a, b]}
triggers:
  - cron: "0 9 * * mon-fri"
    timezone: Europe/Paris
    catchup: latest
    inputs: {customer: scheduled}
  - event: invoice.paid
    inputs: {customer: "{{ event.data.customer }}"}
steps:
  - id: greet
    uses: log
    with: {message: "Hello {{ input.customer }}"}
  - id: save
    uses: file.write
    if: "{{ input.count > 2 }}"
    foreach: "{{ input.items }}"
    retry: {attempts: 5, backoff: 1s, multiplier: 2, max_backoff: 1m, jitter: false, on: [unavailable, deadline_exceeded]}
    timeout: 30s
    lock: "customer:{{ input.customer }}"
    with: {path: "out/{{ input.customer }}/{{ item }}.txt", content: "{{ steps.greet.output }}"}
  - id: later
    uses: wait
    needs: []
    with: {duration: 1h}
  - id: done
    uses: emit
    needs: [save, later]
    with: {event: onboarded, data: {customer: "{{ input.customer }}", count: 2}}
)yaml";

// ---------------------------------------------------------------------------
// A valid playbook

TEST(PlaybookTest, ParsesEveryField) {
  Diagnostics diagnostics;
  PlaybookDef playbook = parse(kOnboarding, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();

  EXPECT_EQ(playbook.name, "onboard-customer");
  EXPECT_EQ(playbook.file, "playbooks/test.yaml");
  ASSERT_EQ(playbook.inputs.size(), 3u);
  EXPECT_TRUE(playbook.inputs[0].required);
  EXPECT_EQ(playbook.inputs[1].type, "integer");
  EXPECT_EQ(playbook.inputs[1].default_value, Json(3));
  EXPECT_EQ(playbook.inputs[2].default_value, Json::parse(R"(["a","b"])"));

  ASSERT_EQ(playbook.triggers.size(), 2u);
  EXPECT_EQ(playbook.triggers[0].kind, TriggerDef::Kind::kCron);
  EXPECT_EQ(playbook.triggers[0].time_zone, "Europe/Paris");
  EXPECT_EQ(playbook.triggers[0].catchup, Catchup::kLatest);
  EXPECT_EQ(playbook.triggers[0].pos.line, 8);
  EXPECT_EQ(playbook.triggers[1].kind, TriggerDef::Kind::kEvent);
  EXPECT_EQ(playbook.triggers[1].event, "invoice.paid");
  EXPECT_EQ(playbook.triggers[1].time_zone, "UTC");

  ASSERT_EQ(playbook.steps.size(), 4u);
  const StepDef& save = *playbook.find_step("save");
  EXPECT_EQ(save.pos.line, 18);
  EXPECT_EQ(save.pos.column, 5);
  EXPECT_EQ(save.if_condition, "{{ input.count > 2 }}");
  EXPECT_EQ(save.foreach, "{{ input.items }}");
  EXPECT_EQ(save.lock, "customer:{{ input.customer }}");
  EXPECT_EQ(save.timeout, 30000);
  ASSERT_TRUE(save.retry.has_value());
  EXPECT_EQ(save.retry->max_attempts, 5);
  EXPECT_EQ(save.retry->initial_backoff, 1000);
  EXPECT_EQ(save.retry->max_backoff, 60000);
  EXPECT_FALSE(save.retry->jitter);
  EXPECT_EQ(save.retry->retry_on,
            (std::vector<StatusCode>{StatusCode::kUnavailable, StatusCode::kDeadlineExceeded}));
  EXPECT_EQ(
      playbook.find_step("done")->with,
      Json::parse(R"({"event":"onboarded","data":{"customer":"{{ input.customer }}","count":2}})"));
  EXPECT_EQ(playbook.find_step("nope"), nullptr);
}

TEST(PlaybookTest, NeedsDefaultToThePreviousStepAndEmptyMeansNone) {
  Diagnostics diagnostics;
  PlaybookDef playbook = parse(kOnboarding, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_TRUE(playbook.find_step("greet")->needs.empty());  // the first step
  EXPECT_EQ(playbook.find_step("save")->needs, std::vector<std::string>{"greet"});
  EXPECT_TRUE(playbook.find_step("later")->needs.empty());  // needs: []
  EXPECT_EQ(playbook.find_step("done")->needs, (std::vector<std::string>{"save", "later"}));
}

TEST(PlaybookTest, NameDefaultsToTheFileStem) {
  Diagnostics diagnostics;
  PlaybookDef playbook =
      parse("steps:\n  - {id: a, uses: log}\n", &diagnostics, "playbooks/weekly-report.yaml");
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(playbook.name, "weekly-report");
}

TEST(PlaybookTest, StepsMayReadTransitiveUpstreamOutputsAndItemInForeach) {
  Diagnostics diagnostics;
  parse(R"yaml(steps:
  - {id: fetch, uses: log}
  - {id: middle, uses: log}
  - id: last
    uses: file.write
    foreach: "{{ steps.fetch.output.items }}"
    with: {path: "x/{{ item.name }}", content: "{{ steps['middle'].output }}"}
)yaml",
        &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
}

TEST(PlaybookTest, KnownToolsAddToTheBuiltIns) {
  LoadOptions options;
  options.known_tools = {"http.get"};
  Diagnostics diagnostics;
  parse_playbook("steps:\n  - {id: a, uses: http.get}\n  - {id: b, uses: emit}\n", "p.yaml",
                 options, &diagnostics);
  EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
}

// ---------------------------------------------------------------------------
// Canonical JSON and versions

TEST(PlaybookTest, JsonRoundTripsExactly) {
  Diagnostics diagnostics;
  PlaybookDef original = parse(kOnboarding, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();

  Json snapshot = original.to_json();
  auto restored = PlaybookDef::from_json(snapshot);
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ(restored->to_json(), snapshot);
  EXPECT_EQ(restored->version(), original.version());

  // Field by field: everything that defines behaviour survives.
  EXPECT_EQ(restored->name, original.name);
  EXPECT_EQ(restored->description, original.description);
  ASSERT_EQ(restored->inputs.size(), original.inputs.size());
  EXPECT_EQ(restored->inputs[1].default_value, original.inputs[1].default_value);
  EXPECT_EQ(restored->inputs[0].required, original.inputs[0].required);
  ASSERT_EQ(restored->triggers.size(), 2u);
  EXPECT_EQ(restored->triggers[0].catchup, Catchup::kLatest);
  EXPECT_EQ(restored->triggers[0].cron, original.triggers[0].cron);
  EXPECT_EQ(restored->triggers[1].inputs, original.triggers[1].inputs);
  ASSERT_EQ(restored->steps.size(), original.steps.size());
  for (size_t i = 0; i < original.steps.size(); ++i) {
    const StepDef& a = original.steps[i];
    const StepDef& b = restored->steps[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.uses, b.uses);
    EXPECT_EQ(a.with, b.with);
    EXPECT_EQ(a.needs, b.needs);
    EXPECT_EQ(a.if_condition, b.if_condition);
    EXPECT_EQ(a.foreach, b.foreach);
    EXPECT_EQ(a.lock, b.lock);
    EXPECT_EQ(a.timeout, b.timeout);
    EXPECT_EQ(a.retry.has_value(), b.retry.has_value());
    if (a.retry && b.retry) {
      EXPECT_EQ(a.retry->to_json(), b.retry->to_json());
    }
  }
}

TEST(PlaybookTest, FromJsonRefusesAMalformedSnapshot) {
  Diagnostics diagnostics;
  Json snapshot = parse(kOnboarding, &diagnostics).to_json();

  Json missing = snapshot;
  missing["steps"][0].erase("uses");
  auto result = PlaybookDef::from_json(missing);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().to_string(), "corruption: playbook snapshot: steps[0].uses: missing");

  Json wrong = snapshot;
  wrong["steps"][1]["retry"]["max_attempts"] = "five";
  EXPECT_TRUE(PlaybookDef::from_json(wrong).status().is(StatusCode::kCorruption));
  EXPECT_FALSE(PlaybookDef::from_json(Json::array()).ok());
}

TEST(PlaybookTest, VersionChangesWhenAStepChangesAndNotOtherwise) {
  Diagnostics diagnostics;
  std::string text(kOnboarding);
  std::string version = parse(text, &diagnostics).version();
  ASSERT_EQ(version.size(), 16u);
  EXPECT_EQ(version.find_first_not_of("0123456789abcdef"), std::string::npos);

  // Same content: same version, even with comments and another file name.
  EXPECT_EQ(parse(text, &diagnostics).version(), version);
  EXPECT_EQ(parse("# a comment\n\n" + text, &diagnostics, "playbooks/other.yaml").version(),
            version);

  auto changed = [&](std::string_view from, std::string_view to) {
    std::string copy = text;
    size_t at = copy.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    copy.replace(at, from.size(), to);
    Diagnostics d;
    std::string v = parse(copy, &d).version();
    EXPECT_TRUE(d.empty()) << d.to_string();
    return v;
  };
  EXPECT_NE(changed("Hello {{", "Hi {{"), version);             // a step's arguments
  EXPECT_NE(changed("timeout: 30s", "timeout: 31s"), version);  // a step's timeout
  EXPECT_NE(changed("uses: wait", "uses: log"), version);       // a step's tool
  EXPECT_NE(changed("attempts: 5", "attempts: 6"), version);    // a step's retry
  EXPECT_EQ(changed("{type: integer, default: 3}", "{default: 3, type: integer}"), version);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
}

// ---------------------------------------------------------------------------
// Every mistake, each at its place

TEST(PlaybookTest, BrokenPlaybookReportsEveryMistakeWithItsPlace) {
  constexpr std::string_view kBroken = R"yaml(name: Bad Name
descripton: typo
inputs:
  count: {type: integr, default: 3}
  limit: {type: integer, default: many}
triggers:
  - cron: "0 25 * * *"
    timezone: Mars/Olympus
  - event: invoice.paid
    catchup: all
steps:
  - id: greet
    uses: lgo
    with: {message: "Hello {{ input.name "}
  - id: greet
    uses: log
  - id: save
    uses: file.write
    needs: [greet, missing]
    retry: {attempts: 0, multiplier: 0.5, on: [unavailabel]}
    timeout: 5x
    with: {path: "{{ item.name }}", content: "{{ steps.later.output }}"}
  - id: later
    uses: log
    needs: [cycle-b]
    with: {message: "{{ inptu.x }}"}
  - id: cycle-b
    uses: log
    needs: [later, cycle-b]
  - uses: emit
)yaml";
  Diagnostics diagnostics;
  parse(kBroken, &diagnostics, "playbooks/broken.yaml");
  std::vector<std::string> expected = {
      "playbooks/broken.yaml:1:7: name: 'Bad Name' is not a valid playbook name (use a-z, 0-9, "
      "'.', '_' and '-', starting with a letter or digit)",
      "playbooks/broken.yaml:2:1: descripton: unknown field (did you mean 'description'?)",
      "playbooks/broken.yaml:4:17: inputs.count.type: unknown type 'integr' (did you mean "
      "'integer'?)",
      "playbooks/broken.yaml:5:35: inputs.limit.default: default \"many\" is not of type integer",
      "playbooks/broken.yaml:7:11: triggers[0].cron: invalid cron schedule: hour: value 25 is out "
      "of range 0-23 in '0 25 * * *'",
      "playbooks/broken.yaml:8:15: triggers[0].timezone: time zone: unknown time zone "
      "'Mars/Olympus'",
      "playbooks/broken.yaml:10:14: triggers[1].catchup: only cron triggers have catchup",
      "playbooks/broken.yaml:13:11: steps[0].uses: unknown tool 'lgo' (did you mean 'log'?)",
      "playbooks/broken.yaml:14:21: steps[0].with.message: template error: column 7: unclosed "
      "'{{' in 'Hello {{ input.name '",
      "playbooks/broken.yaml:15:9: steps[1].id: duplicate step id 'greet' (first used by "
      "steps[0] at line 12)",
      "playbooks/broken.yaml:19:20: steps[2].needs[1]: unknown step 'missing'",
      "playbooks/broken.yaml:20:23: steps[2].retry.attempts: must be between 1 and 100, got 0",
      "playbooks/broken.yaml:20:38: steps[2].retry.multiplier: must be between 1 and 100, got 0.5",
      "playbooks/broken.yaml:20:48: steps[2].retry.on[0]: unknown error code 'unavailabel' (did "
      "you mean 'unavailable'?)",
      "playbooks/broken.yaml:21:14: steps[2].timeout: invalid duration: unknown unit 'x' in '5x' "
      "(use ms, s, m, h or d)",
      "playbooks/broken.yaml:22:18: steps[2].with.path: 'item' is only defined in a step with "
      "foreach",
      "playbooks/broken.yaml:22:46: steps[2].with.content: step 'later' is not upstream of step "
      "'save'; add it to needs (directly or through a step it needs)",
      "playbooks/broken.yaml:26:21: steps[3].with.message: unknown name 'inptu' in template (did "
      "you mean 'input'?)",
      "playbooks/broken.yaml:29:13: steps[4].needs[0]: dependency cycle: later -> cycle-b -> "
      "later (each step needs the next)",
      "playbooks/broken.yaml:29:20: steps[4].needs[1]: a step cannot need itself",
      "playbooks/broken.yaml:30:5: steps[5].id: required field is missing",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
}

TEST(PlaybookTest, TriggerInputsMustNameDeclaredInputsAndGiveTheRequiredOnes) {
  Diagnostics diagnostics;
  parse(R"yaml(inputs:
  customer: {type: string, required: true}
triggers:
  - event: signup
    inputs: {custmer: "{{ event.data.name }}", other: "{{ steps.a.output }}"}
  - cron: "@daily"
    catchup: sometimes
    inputs: {customer: "{{ item }}"}
steps:
  - {id: a, uses: log, with: {message: "{{ input.customer }}"}}
)yaml",
        &diagnostics);
  std::vector<std::string> expected = {
      "playbooks/test.yaml:5:13: triggers[0].inputs: required input 'customer' is not given",
      "playbooks/test.yaml:5:14: triggers[0].inputs.custmer: the playbook declares no input "
      "'custmer' (did you mean 'customer'?)",
      "playbooks/test.yaml:5:48: triggers[0].inputs.other: the playbook declares no input 'other'",
      "playbooks/test.yaml:5:55: triggers[0].inputs.other: trigger inputs cannot use steps (no "
      "step has run yet)",
      "playbooks/test.yaml:7:14: triggers[1].catchup: must be none, latest or all, got "
      "'sometimes'",
      "playbooks/test.yaml:8:24: triggers[1].inputs.customer: 'item' is only defined in a step "
      "with foreach",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
}

TEST(PlaybookTest, WrongTypesAreReportedWithTheirPaths) {
  Diagnostics diagnostics;
  parse(R"yaml(description: [not, a, string]
inputs:
  flag: {type: boolean, required: yes, default: "true"}
steps:
  - id: a
    uses: {name: log}
    needs: first
    with: [1, 2]
    retry: {jitter: 1, backoff: 10s, max_backoff: 1s}
    timeout: 0s
  - not a mapping
)yaml",
        &diagnostics);
  std::vector<std::string> expected = {
      "playbooks/test.yaml:1:14: description: expected a string, got a sequence",
      "playbooks/test.yaml:3:35: inputs.flag.required: expected true or false, got 'yes'",
      "playbooks/test.yaml:3:49: inputs.flag.default: default \"true\" is not of type boolean",
      "playbooks/test.yaml:6:11: steps[0].uses: expected a string, got a mapping",
      "playbooks/test.yaml:7:12: steps[0].needs[0]: unknown step 'first'",
      "playbooks/test.yaml:8:11: steps[0].with: expected a mapping, got a sequence",
      "playbooks/test.yaml:9:21: steps[0].retry.jitter: expected true or false, got '1'",
      "playbooks/test.yaml:9:51: steps[0].retry.max_backoff: max_backoff (1s) is shorter than "
      "backoff (10s)",
      "playbooks/test.yaml:10:14: steps[0].timeout: must be at least 1ms, got 0s",
      "playbooks/test.yaml:11:5: steps[1]: expected a mapping, got 'not a mapping'",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
}

TEST(PlaybookTest, SyntaxErrorsAndEmptyFilesHaveAPlace) {
  Diagnostics syntax;
  parse("steps:\n  - id: a\n    uses: [log\n", &syntax);
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax.items()[0].line, 4);
  EXPECT_EQ(syntax.items()[0].file, "playbooks/test.yaml");
  EXPECT_EQ(syntax.items()[0].message.rfind("YAML syntax error: ", 0), 0u);

  Diagnostics empty;
  parse("# nothing here\n", &empty);
  EXPECT_EQ(lines_of(empty), std::vector<std::string>{"playbooks/test.yaml:0:0: the file is "
                                                      "empty; a playbook needs at least steps"});

  Diagnostics no_steps;
  parse("description: x\n", &no_steps);
  EXPECT_EQ(lines_of(no_steps),
            std::vector<std::string>{"playbooks/test.yaml:1:1: steps: required field is missing"});

  // A stray ',' made yaml-cpp 0.7's LoadAll() loop forever; trailing text is
  // an error rather than silently dropped.
  Diagnostics comma;
  parse(",", &comma);
  EXPECT_EQ(lines_of(comma),
            std::vector<std::string>{"playbooks/test.yaml:1:1: YAML syntax error: unexpected text "
                                     "after the end of the document (a file holds one YAML "
                                     "document)"});
  Diagnostics two_documents;
  parse("steps: []\n---\nsteps: []\n", &two_documents);
  ASSERT_EQ(two_documents.size(), 1u);
  EXPECT_EQ(two_documents.items()[0].line, 3);

  Diagnostics duplicate_key;
  parse("steps: []\nsteps: []\n", &duplicate_key);
  EXPECT_EQ(lines_of(duplicate_key),
            (std::vector<std::string>{
                "playbooks/test.yaml:1:8: steps: a playbook needs at least one step",
                "playbooks/test.yaml:2:1: steps: duplicate key (first at line 1)"}));
}

TEST(PlaybookTest, HostileYamlIsRefusedNotExpanded) {
  // Deep nesting and alias bombs stop at the caps instead of exhausting the
  // stack or memory.
  Diagnostics deep;
  parse(std::string(5000, '[') + std::string(5000, ']'), &deep);
  EXPECT_FALSE(deep.empty());

  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [*" + static_cast<char>(c - 1) + ", *" +
            static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + ", *" +
            static_cast<char>(c - 1) + ", *" + static_cast<char>(c - 1) + "]\n";
  }
  Diagnostics expanded;
  parse(bomb, &expanded);
  EXPECT_EQ(lines_of(expanded), std::vector<std::string>{"playbooks/test.yaml:0:0: document has "
                                                         "more than 100000 nodes (aliases "
                                                         "expanded)"});

  Diagnostics cycle;
  parse("steps: &s [*s]\n", &cycle);
  EXPECT_FALSE(cycle.empty());
}

// ---------------------------------------------------------------------------
// cadre.yaml

TEST(ConfigTest, MissingFieldsKeepTheirDefaults) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config("", "cadre.yaml", &diagnostics);
  EXPECT_TRUE(diagnostics.empty());
  EXPECT_EQ(config.kernel.workers, 16);
  EXPECT_EQ(config.server.port, 7400);
  EXPECT_EQ(config.store.path, ".cadre/cadre.db");
}

TEST(ConfigTest, ReadsEverySection) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config(R"yaml(name: acme
store: {driver: sqlite, path: data/acme.db, synchronous: full, busy_timeout: 2s}
kernel:
  workers: 4
  lease: 30s
  heartbeat: 10s
  poll_interval: 100ms
  shutdown_grace: 1m
  max_step_input_bytes: 1000
  max_step_output_bytes: 2000
  max_run_journal_bytes: 3000
  max_run_steps: 50
  max_foreach_items: 60
server: {bind: 0.0.0.0, port: 8080}
tools:
  file.write: {rate_per_second: 2.5, burst: 5}
models:
  tiers: {small: {provider: openai, model: llama3.2, base_url: "http://127.0.0.1:11434/v1"}}
connectors: []
memory: {}
policies: {}
secrets: {}
agents: {}
)yaml",
                                       "cadre.yaml", &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_EQ(config.name, "acme");
  EXPECT_EQ(config.models.tiers.at("small").primary.model, "llama3.2");
  EXPECT_EQ(config.store.path, "data/acme.db");
  EXPECT_EQ(config.store.synchronous, "full");
  EXPECT_EQ(config.store.busy_timeout, 2000);
  EXPECT_EQ(config.kernel.workers, 4);
  EXPECT_EQ(config.kernel.lease, 30000);
  EXPECT_EQ(config.kernel.heartbeat, 10000);
  EXPECT_EQ(config.kernel.poll_interval, 100);
  EXPECT_EQ(config.kernel.shutdown_grace, 60000);
  EXPECT_EQ(config.kernel.max_step_input_bytes, 1000);
  EXPECT_EQ(config.kernel.max_step_output_bytes, 2000);
  EXPECT_EQ(config.kernel.max_run_journal_bytes, 3000);
  EXPECT_EQ(config.kernel.max_run_steps, 50);
  EXPECT_EQ(config.kernel.max_foreach_items, 60);
  EXPECT_EQ(config.server.bind, "0.0.0.0");
  EXPECT_EQ(config.server.port, 8080);
  ASSERT_EQ(config.tools.count("file.write"), 1u);
  EXPECT_DOUBLE_EQ(config.tools["file.write"].rate_per_second, 2.5);
  EXPECT_EQ(config.tools["file.write"].burst, 5);
}

TEST(ConfigTest, ReportsEveryProblem) {
  Diagnostics diagnostics;
  WorkspaceConfig config = load_config(R"yaml(store:
  driver: postgres
  synchronous: fast
kernel:
  workers: 0
  lease: 5s
  heartbeat: 10s
  poll_intervall: 1s
server:
  port: 70000
tools:
  file.write: {rate_per_second: -1, burst: 0}
modles: {}
)yaml",
                                       "cadre.yaml", &diagnostics);
  std::vector<std::string> expected = {
      "cadre.yaml:2:11: store.driver: unknown driver 'postgres' (this release supports sqlite)",
      "cadre.yaml:3:16: store.synchronous: must be normal or full, got 'fast'",
      "cadre.yaml:5:12: kernel.workers: must be between 1 and 1024, got 0",
      "cadre.yaml:7:14: kernel.heartbeat: heartbeat (10s) must be shorter than lease (5s)",
      "cadre.yaml:8:3: kernel.poll_intervall: unknown field (did you mean 'poll_interval'?)",
      "cadre.yaml:10:9: server.port: must be between 0 and 65535, got 70000",
      "cadre.yaml:12:33: tools.file.write.rate_per_second: must be between 0 and 1000000000, got "
      "-1",
      "cadre.yaml:12:44: tools.file.write.burst: must be between 1 and 1000000, got 0",
      "cadre.yaml:13:1: modles: unknown field (did you mean 'models'?)",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
  EXPECT_EQ(config.kernel.workers, 16);  // a wrong value keeps the default
}

// ---------------------------------------------------------------------------
// Workspaces

TEST(WorkspaceTest, EveryBundledExampleLoadsWithoutDiagnostics) {
  std::vector<std::string> names = example_names();
  EXPECT_EQ(names, (std::vector<std::string>{"consultant", "creator", "saas-founder"}));
  for (const auto& name : names) {
    TempDir dir;
    fs::path root = dir.path() / name;
    ASSERT_TRUE(init_workspace(root, name).ok()) << name;
    Diagnostics diagnostics;
    auto workspace = Workspace::load(root, LoadOptions{}, &diagnostics);
    ASSERT_TRUE(workspace.ok()) << name << ": " << workspace.status().to_string();
    EXPECT_TRUE(diagnostics.empty()) << diagnostics.to_string();
    EXPECT_GE(workspace->playbooks.size(), 2u) << name;
    EXPECT_FALSE(workspace->agents.empty()) << name;
    for (const auto& [playbook_name, playbook] : workspace->playbooks) {
      EXPECT_EQ(playbook.file.rfind("playbooks/", 0), 0u) << playbook.file;
      // Offline: built-in tools, and files connectors (folders of the workspace).
      std::vector<std::string> offline = {"log", "file.write", "file.append", "wait", "emit"};
      for (const auto& connector : workspace->connectors) {
        EXPECT_EQ(connector.type, "files") << name << ": connector " << connector.name << " needs a network";
        EXPECT_TRUE(fs::path(connector.files.root).is_relative()) << name << ": " << connector.files.root;
        for (const auto& spec : declared_tools(connector)) offline.push_back(spec.name);
      }
      for (const auto& step : playbook.steps) {
        EXPECT_NE(std::find(offline.begin(), offline.end(), step.uses), offline.end())
            << name << "/" << playbook_name << ": " << step.uses;
      }
    }
  }
}

#ifdef CADRE_SOURCE_DIR
TEST(WorkspaceTest, ExamplesInTheSourceTreeMatchTheBundledOnes) {
  for (const auto& file : example_files()) {
    fs::path path = fs::path(CADRE_SOURCE_DIR) / "examples" / file.example / file.path;
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), file.contents) << path << " changed: rebuild to embed it";
  }
}
#endif

TEST(WorkspaceTest, InitWritesAMinimalWorkspaceThatLoads) {
  TempDir dir;
  fs::path root = dir.path() / "acme";
  ASSERT_TRUE(init_workspace(root, "").ok());
  for (const char* entry : {"cadre.yaml", "agents", "playbooks", "policies.yaml", ".cadre"}) {
    EXPECT_TRUE(fs::exists(root / entry)) << entry;
  }
  Diagnostics diagnostics;
  auto workspace = Workspace::load(root, LoadOptions{}, &diagnostics);
  ASSERT_TRUE(workspace.ok()) << workspace.status().to_string();
  EXPECT_EQ(workspace->config.name, "acme");
  EXPECT_EQ(workspace->playbooks.count("hello"), 1u);
}

TEST(WorkspaceTest, InitKeepsTheDatabaseFolderPrivateAndUncommitted) {
  TempDir dir;
  ASSERT_TRUE(init_workspace(dir.path(), "saas-founder").ok());
  std::ifstream ignore(dir.path() / ".cadre" / ".gitignore");
  ASSERT_TRUE(ignore.good());
  std::string content((std::istreambuf_iterator<char>(ignore)), std::istreambuf_iterator<char>());
  EXPECT_NE(content.find("\n*\n"), std::string::npos) << content;
  struct stat info {};
  ASSERT_EQ(stat((dir.path() / ".cadre").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST(WorkspaceTest, InitRefusesAnExistingWorkspaceAndUnknownExamples) {
  TempDir dir;
  ASSERT_TRUE(init_workspace(dir.path(), "").ok());
  Status again = init_workspace(dir.path(), "consultant");
  EXPECT_TRUE(again.is(StatusCode::kFailedPrecondition)) << again.to_string();

  TempDir other;
  Status unknown = init_workspace(other.path() / "x", "creater");
  EXPECT_TRUE(unknown.is(StatusCode::kNotFound));
  EXPECT_EQ(unknown.message(),
            "unknown example 'creater' (did you mean 'creator'?); bundled examples: consultant, "
            "creator, saas-founder");
  EXPECT_FALSE(fs::exists(other.path() / "x" / "cadre.yaml"));
}

TEST(WorkspaceTest, LoadChecksAgentsPoliciesAndNamesAcrossFiles) {
  TempDir dir;
  const fs::path& root = dir.path();
  write_file(root / "cadre.yaml", "name: test\n");
  write_file(root / "agents" / "writer.yaml", "role: Writer\ntier: small\n");  // no instructions
  write_file(root / "agents" / "broken.yaml", "- just\n- a list\n");
  write_file(root / "policies.yaml", "rules: [\n");
  write_file(root / "playbooks" / "a.yaml",
             "name: shared\nsteps:\n  - {id: draft, uses: agent.writer}\n");
  write_file(root / "playbooks" / "b.yaml",
             "name: shared\nsteps:\n  - {id: draft, uses: agent.writter}\n");
  write_file(root / "playbooks" / "notes.txt", "not a playbook");
  fs::create_symlink(root / "nowhere.yaml", root / "playbooks" / "ghost.yaml");

  Diagnostics diagnostics;
  auto workspace = Workspace::load(root, LoadOptions{}, &diagnostics);
  ASSERT_FALSE(workspace.ok());
  EXPECT_TRUE(workspace.status().is(StatusCode::kInvalidArgument));
  std::vector<std::string> expected = {
      "agents/broken.yaml:1:1: expected a mapping, got a sequence",
      "agents/writer.yaml:1:1: instructions: required field is missing",
      "playbooks/b.yaml:1:7: name: playbook name 'shared' is already used by playbooks/a.yaml",
      "playbooks/b.yaml:3:23: steps[0].uses: unknown agent 'writter': there is no "
      "agents/writter.yaml (did you mean 'writer'?)",
      "playbooks/ghost.yaml:0:0: cannot read the file: it does not exist (a broken link?)",
      "policies.yaml:2:1: YAML syntax error: end of sequence flow not found",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
  EXPECT_NE(workspace.status().message().find("6 problem(s)"), std::string::npos);
}

TEST(WorkspaceTest, ADirectoryWithoutCadreYamlIsNotAWorkspace) {
  TempDir dir;
  Diagnostics diagnostics;
  auto workspace = Workspace::load(dir.path(), LoadOptions{}, &diagnostics);
  EXPECT_TRUE(workspace.status().is(StatusCode::kNotFound));
  EXPECT_TRUE(diagnostics.empty());
}

TEST(WorkspaceTest, LocateFindsTheRootFromASubdirectory) {
  TempDir dir;
  fs::path root = fs::canonical(dir.path()) / "biz";
  ASSERT_TRUE(init_workspace(root, "creator").ok());
  fs::create_directories(root / "playbooks" / "drafts");

  fs::path previous = fs::current_path();
  fs::current_path(root / "playbooks" / "drafts");
  auto found = Workspace::locate("");
  fs::current_path(dir.path());
  auto outside = Workspace::locate("");
  fs::current_path(previous);

  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_EQ(*found, root);
  EXPECT_TRUE(outside.status().is(StatusCode::kNotFound));

  auto explicit_dir = Workspace::locate((root / "").string());
  ASSERT_TRUE(explicit_dir.ok()) << explicit_dir.status().to_string();
  EXPECT_EQ(*explicit_dir, root);
  EXPECT_TRUE(Workspace::locate((root / "agents").string()).status().is(StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------
// compensate: a step's undo

constexpr std::string_view kSaga = R"yaml(name: order
inputs:
  order: {type: string, required: true}
  items: {type: array, default: [a, b]}
steps:
  - id: reserve
    uses: file.append
    with: {path: ledger.txt, content: "reserve {{ input.order }}"}
    compensate:
      uses: file.append
      with: {path: ledger.txt, content: "release {{ input.order }} ({{ output.bytes }}, {{ steps.reserve.output.path }})"}
  - id: pack
    uses: file.write
    foreach: "{{ input.items }}"
    with: {path: "packed/{{ item }}", content: "{{ steps.reserve.output.bytes }}"}
    compensate: {uses: log, with: {message: "unpack {{ item }} {{ index }} {{ output.path }}"}}
  - id: ship
    uses: emit
    with: {event: shipped}
)yaml";

TEST(PlaybookTest, CompensateIsReadAndIsPartOfTheDefinition) {
  Diagnostics diagnostics;
  PlaybookDef playbook = parse(kSaga, &diagnostics);
  ASSERT_TRUE(diagnostics.empty()) << diagnostics.to_string();
  EXPECT_TRUE(playbook.has_compensations());
  const StepDef& reserve = *playbook.find_step("reserve");
  ASSERT_TRUE(reserve.compensate.has_value());
  EXPECT_EQ(reserve.compensate->uses, "file.append");
  EXPECT_EQ(reserve.compensate->with["path"], "ledger.txt");
  EXPECT_EQ(reserve.compensate->pos.line, 10);  // where its mapping starts
  EXPECT_EQ(playbook.find_step("pack")->compensate->uses, "log");
  EXPECT_FALSE(playbook.find_step("ship")->compensate.has_value());

  // The snapshot keeps it; a step without one has no such key, so playbooks
  // that declare none keep the versions they had before.
  Json snapshot = playbook.to_json();
  EXPECT_EQ(snapshot["steps"][0]["compensate"],
            Json({{"uses", "file.append"}, {"with", reserve.compensate->with}}));
  EXPECT_FALSE(snapshot["steps"][2].contains("compensate"));
  auto restored = PlaybookDef::from_json(snapshot);
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ(restored->to_json(), snapshot);
  EXPECT_EQ(restored->version(), playbook.version());

  Json bad = snapshot;
  bad["steps"][0]["compensate"] = "file.append";
  EXPECT_EQ(PlaybookDef::from_json(bad).status().to_string(),
            "corruption: playbook snapshot: steps[0].compensate: expected an object");
  bad["steps"][0]["compensate"] = {{"with", Json::object()}};
  EXPECT_EQ(PlaybookDef::from_json(bad).status().to_string(),
            "corruption: playbook snapshot: steps[0].compensate.uses: missing");

  // Changing a compensation changes the version; removing every one gives
  // a playbook without them.
  auto version_of = [](std::string text) {
    Diagnostics d;
    std::string v = parse(text, &d).version();
    EXPECT_TRUE(d.empty()) << d.to_string();
    return v;
  };
  std::string text(kSaga);
  std::string edited = text;
  edited.replace(edited.find("release {{"), 7, "free");
  EXPECT_NE(version_of(edited), playbook.version());
  std::string other_tool = text;
  other_tool.replace(other_tool.find("{uses: log, with: {message"), 26,
                     "{uses: memory.note, with: {text");
  EXPECT_NE(version_of(other_tool), playbook.version());
  EXPECT_FALSE(parse(kOnboarding, &diagnostics).has_compensations());
}

TEST(PlaybookTest, BadCompensateReportsEveryMistakeWithItsPlace) {
  constexpr std::string_view kBroken = R"yaml(steps:
  - id: reserve
    uses: file.append
    with: {path: ledger.txt, content: "{{ output.bytes }}"}
    compensate:
      uses: file.apend
      with: {path: ledger.txt, content: "release {{ output.bytes "}
  - id: charge
    uses: log
    compensate:
      with: {message: "{{ steps.reserve.output.path }}"}
  - id: notify
    uses: log
    compensate: {uses: agent.support, with: {message: "{{ item }}"}}
  - id: pause
    uses: log
    compensate: {uses: wait, with: {duration: 1m}}
  - id: each
    uses: log
    foreach: "{{ input.items }}"
    compensate: {uses: log, undo: true, with: {message: "{{ steps.each.output }} {{ steps.later.output }}"}}
  - id: text
    uses: log
    compensate: release
  - id: later
    uses: file.write
    with: {path: a, content: b}
    compensate: {uses: file.write, with: {path: "{{ outptu }}"}}
)yaml";
  LoadOptions options;
  options.tool_schemas["file.write"] = Json::parse(
      R"({"type":"object","required":["path","content"],"properties":{"path":{},"content":{}}})");
  Diagnostics diagnostics;
  parse_playbook(kBroken, "playbooks/saga.yaml", options, &diagnostics);
  std::vector<std::string> expected = {
      "playbooks/saga.yaml:4:39: steps[0].with.content: 'output' is only defined in compensate "
      "(the step's own output); read other steps as steps.ID.output",
      "playbooks/saga.yaml:6:13: steps[0].compensate.uses: unknown tool 'file.apend' (did you "
      "mean 'file.append'?)",
      "playbooks/saga.yaml:7:41: steps[0].compensate.with.content: template error: column 9: "
      "unclosed '{{' in 'release {{ output.bytes '",
      "playbooks/saga.yaml:11:7: steps[1].compensate.uses: required field is missing",
      "playbooks/saga.yaml:14:24: steps[2].compensate.uses: a compensation is a tool call; "
      "'agent.support' is an agent (use a tool, e.g. emit an event that starts a playbook)",
      "playbooks/saga.yaml:14:55: steps[2].compensate.with.message: 'item' is only defined in a "
      "step with foreach",
      "playbooks/saga.yaml:17:24: steps[3].compensate.uses: wait cannot compensate: a failing run "
      "does not park to undo (emit an event instead and let another playbook wait)",
      "playbooks/saga.yaml:21:29: steps[4].compensate.undo: unknown field",
      "playbooks/saga.yaml:21:57: steps[4].compensate.with.message: a foreach step's compensate "
      "undoes one item: read its output as 'output', not 'steps.each'",
      "playbooks/saga.yaml:21:57: steps[4].compensate.with.message: step 'later' is not upstream "
      "of step 'each'; add it to needs (directly or through a step it needs)",
      "playbooks/saga.yaml:24:17: steps[5].compensate: expected a mapping, got 'release'",
      "playbooks/saga.yaml:28:42: steps[6].compensate.with: tool file.write needs argument "
      "'content'",
      "playbooks/saga.yaml:28:49: steps[6].compensate.with.path: unknown name 'outptu' in "
      "template (did you mean 'output'?)",
  };
  EXPECT_EQ(lines_of(diagnostics), expected);
}

}  // namespace
}  // namespace cadre

#include "agents/workspace.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "agents/agent.h"
#include "agents/example_files.h"
#include "agents/playbook_parser.h"
#include "core/config_loader.h"
#include "core/yaml_util.h"
#include "kernel/cron.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPoliciesYaml =
    "# Policies: rules asked before every tool call and model call. Outcomes:\n"
    "# allow, deny (with a reason the agent sees) or require_approval (a human\n"
    "# answers with `cadre approvals`, `cadre approve ID`, `cadre reject ID`).\n"
    "# The most restrictive matching rule wins; see docs/cli.md#policies.\n"
    "defaults: {read: allow, write: allow, irreversible: require_approval, model: allow}\n"
    "approvals: {timeout: 24h, on_timeout: reject}\n"
    "rules: []\n";

constexpr std::string_view kHelloPlaybook =
    "# A first playbook: `cadre run hello --input name=you`.\n"
    "description: Say hello\n"
    "inputs:\n"
    "  name: {type: string, default: world, description: Who to greet}\n"
    "steps:\n"
    "  - id: greet\n"
    "    uses: log\n"
    "    with: {message: \"Hello, {{ input.name }}!\"}\n";

std::string minimal_config(const std::string& name) {
  return "# Cadre workspace settings. Every field is optional; the values below are\n"
         "# the defaults.\n"
         "name: " +
         dump_json(Json(name)) +
         "\n"
         "store:\n"
         "  driver: sqlite\n"
         "  path: .cadre/cadre.db\n"
         "kernel:\n"
         "  workers: 16\n"
         "server:\n"
         "  bind: 127.0.0.1\n"
         "  port: 7400\n";
}

// Reads at most one byte more than parse_yaml() accepts, so an oversized
// file is reported by size rather than read whole.
Result<std::string> read_text_file(const fs::path& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return Status::IOError("it does not exist (a broken link?)");
  if (fs::is_directory(status)) return Status::IOError("it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(std::string("cannot open it: ") + std::strerror(errno));
  std::string text(kMaxYamlBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return Status::IOError("reading it failed");
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

Status write_text_file(const fs::path& path, std::string_view contents) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return Status::IOError("cannot create " + path.parent_path().string() + ": " + ec.message());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return Status::IOError("cannot write " + path.string());
  return Status::Ok();
}

// The *.yaml and *.yml files directly inside `dir`, sorted; none if `dir` is missing.
std::vector<fs::path> yaml_files(const fs::path& dir, Diagnostics* diagnostics,
                                 const std::string& relative_dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return files;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    diagnostics->add(relative_dir, 0, 0, "", "cannot list the directory: " + ec.message());
    return files;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const fs::path& path = it->path();
    std::string extension = path.extension().string();
    // Not only regular files: a broken link must be reported, not skipped.
    std::error_code type_ec;
    if ((extension == ".yaml" || extension == ".yml") && !it->is_directory(type_ec)) {
      files.push_back(path);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool is_valid_file_name(std::string_view s) {
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (s.empty() || !lower_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return lower_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::string relative_name(const fs::path& path, const fs::path& root) {
  return path.lexically_relative(root).generic_string();
}

// The connectors of cadre.yaml's `connectors:` and of connectors/*.yaml; a
// name declared twice is a diagnostic.
std::vector<ConnectorDef> load_connectors(const fs::path& root, const std::string& cadre_yaml,
                                          Diagnostics* diagnostics) {
  std::vector<ConnectorDef> connectors = parse_connectors_section(cadre_yaml, "cadre.yaml", diagnostics);
  for (const auto& path : yaml_files(root / "connectors", diagnostics, "connectors")) {
    std::string relative = relative_name(path, root);
    auto text = read_text_file(path);
    if (!text.ok()) {
      diagnostics->add(relative, 0, 0, "", "cannot read the file: " + text.status().message());
      continue;
    }
    auto def = parse_connector_file(*text, relative, path.stem().string(), diagnostics);
    if (!def) continue;
    auto same = std::find_if(connectors.begin(), connectors.end(),
                             [&](const ConnectorDef& other) { return other.name == def->name; });
    if (same != connectors.end()) {
      diagnostics->add(relative, 1, 1, "", "connector '" + def->name + "' is already declared in " +
                                               same->file + ":" + std::to_string(same->line));
      continue;
    }
    connectors.push_back(std::move(*def));
  }
  return connectors;
}

void add_connector_tools(const std::vector<ConnectorDef>& connectors, LoadOptions* options) {
  for (const auto& connector : connectors) {
    if (connector.type == "mcp") options->tool_prefixes.push_back(connector.name + ".");
    for (const auto& spec : declared_tools(connector)) {
      options->known_tools.push_back(spec.name);
      options->tool_schemas[spec.name] = spec.input_schema;
    }
  }
}

}  // namespace

bool is_known_tool(const LoadOptions& options, const std::string& name) {
  if (std::find(options.known_tools.begin(), options.known_tools.end(), name) != options.known_tools.end())
    return true;
  return std::any_of(options.tool_prefixes.begin(), options.tool_prefixes.end(), [&](const std::string& prefix) {
    return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
  });
}

Result<Workspace> Workspace::load(const fs::path& root, const LoadOptions& options,
                                  Diagnostics* diagnostics) {
  Diagnostics local;
  if (diagnostics == nullptr) diagnostics = &local;
  const size_t before = diagnostics->size();
  std::error_code ec;
  fs::path absolute_root = fs::absolute(root, ec);
  if (ec) absolute_root = root;
  absolute_root = absolute_root.lexically_normal();
  if (!fs::exists(absolute_root / "cadre.yaml", ec)) {
    return Status::NotFound("'" + root.string() +
                            "' is not a Cadre workspace: it has no cadre.yaml (create one with "
                            "`cadre init DIR`)");
  }

  Workspace workspace;
  workspace.root = absolute_root;
  LoadOptions known = options;  // plus the connectors' tools
  if (auto text = read_text_file(absolute_root / "cadre.yaml"); text.ok()) {
    workspace.connectors = load_connectors(absolute_root, *text, diagnostics);
    add_connector_tools(workspace.connectors, &known);
    workspace.config = load_config(*text, "cadre.yaml", diagnostics, known.known_tools);
    const std::string& cron = workspace.config.memory.compaction_cron;
    if (auto schedule = CronSchedule::parse(cron, "UTC"); !cron.empty() && !schedule.ok()) {
      diagnostics->add("cadre.yaml", 0, 0, "memory.compaction.cron", schedule.status().message());
    }
  } else {
    diagnostics->add("cadre.yaml", 0, 0, "", "cannot read the file: " + text.status().message());
  }

  std::vector<std::string> agent_names;  // what playbooks' `uses: agent.NAME` may name
  for (const auto& path : yaml_files(absolute_root / "agents", diagnostics, "agents")) {
    std::string relative = relative_name(path, absolute_root);
    std::string name = path.stem().string();
    if (!is_valid_file_name(name)) {
      diagnostics->add(relative, 0, 0, "",
                       "'" + name +
                           "' is not a valid agent name (use a-z, 0-9, '.', '_' and '-', "
                           "starting with a letter or digit); rename the file");
    } else {
      agent_names.push_back(name);
    }
    auto text = read_text_file(path);
    if (!text.ok()) {
      diagnostics->add(relative, 0, 0, "", "cannot read the file: " + text.status().message());
      continue;
    }
    workspace.agents[name] =
        std::make_shared<const AgentDef>(parse_agent(*text, relative, name, known, diagnostics));
  }

  if (fs::exists(absolute_root / "policies.yaml", ec)) {
    auto text = read_text_file(absolute_root / "policies.yaml");
    if (text.ok()) {
      workspace.policies = parse_policies(*text, "policies.yaml", diagnostics);
    } else {
      diagnostics->add("policies.yaml", 0, 0, "", "cannot read the file: " + text.status().message());
    }
  }

  std::map<std::string, std::string> name_files;  // playbook name -> file that defined it
  for (const auto& path : yaml_files(absolute_root / "playbooks", diagnostics, "playbooks")) {
    std::string relative = relative_name(path, absolute_root);
    auto text = read_text_file(path);
    if (!text.ok()) {
      diagnostics->add(relative, 0, 0, "", "cannot read the file: " + text.status().message());
      continue;
    }
    PlaybookContext context;
    context.agent_names = &agent_names;
    PlaybookDef playbook =
        parse_playbook_in_context(*text, relative, known, &context, diagnostics);
    if (playbook.name.empty()) continue;
    auto [it, inserted] = name_files.emplace(playbook.name, relative);
    if (!inserted) {
      diagnostics->add(relative, context.name_pos.line, context.name_pos.column, "name",
                       "playbook name '" + playbook.name + "' is already used by " + it->second);
      continue;
    }
    workspace.playbooks.emplace(playbook.name, std::move(playbook));
  }

  if (diagnostics->size() > before) {
    Diagnostics found;
    for (size_t i = before; i < diagnostics->size(); ++i) found.add(diagnostics->items()[i]);
    return found.to_status();
  }
  return workspace;
}

const AgentDef* Workspace::find_agent(const std::string& name) const {
  auto it = agents.find(name);
  return it == agents.end() ? nullptr : it->second.get();
}

Result<fs::path> Workspace::locate(const std::string& explicit_dir) {
  std::error_code ec;
  if (!explicit_dir.empty()) {
    fs::path dir = fs::absolute(explicit_dir, ec);
    if (ec) return Status::IOError("cannot resolve '" + explicit_dir + "': " + ec.message());
    dir = dir.lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // "ws/" -> "ws"
    if (!fs::exists(dir / "cadre.yaml", ec)) {
      return Status::NotFound("'" + explicit_dir +
                              "' is not a Cadre workspace: it has no cadre.yaml");
    }
    return dir;
  }
  fs::path start = fs::current_path(ec);
  if (ec) return Status::IOError("cannot read the current directory: " + ec.message());
  for (fs::path dir = start;; dir = dir.parent_path()) {
    if (fs::exists(dir / "cadre.yaml", ec)) return dir;
    if (dir == dir.parent_path()) break;
  }
  return Status::NotFound("no cadre.yaml in " + start.string() +
                          " or any parent directory; run `cadre init DIR` or pass -w DIR");
}

std::vector<std::string> example_names() {
  std::vector<std::string> names;
  for (const auto& file : example_files()) {
    if (names.empty() || names.back() != file.example) names.emplace_back(file.example);
  }
  return names;
}

Status init_workspace(const fs::path& dir, const std::string& example) {
  std::error_code ec;
  if (fs::exists(dir / "cadre.yaml", ec)) {
    return Status::FailedPrecondition("'" + dir.string() +
                                      "' already holds a workspace (cadre.yaml exists)");
  }
  std::vector<std::pair<std::string, std::string>> files;  // relative path, contents
  if (example.empty()) {
    std::string name = fs::absolute(dir, ec).lexically_normal().filename().string();
    if (name.empty()) name = "workspace";
    files.emplace_back("cadre.yaml", minimal_config(name));
    files.emplace_back("playbooks/hello.yaml", std::string(kHelloPlaybook));
  } else {
    for (const auto& file : example_files()) {
      if (file.example == example) files.emplace_back(file.path, file.contents);
    }
    if (files.empty()) {
      std::vector<std::string> names = example_names();
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return Status::NotFound("unknown example '" + example + "'" + did_you_mean(example, names) +
                              "; bundled examples: " + list);
    }
  }
  if (std::none_of(files.begin(), files.end(),
                   [](const auto& f) { return f.first == "policies.yaml"; })) {
    files.emplace_back("policies.yaml", std::string(kPoliciesYaml));
  }
  for (const auto& [relative, contents] : files) {
    if (fs::exists(dir / relative, ec)) {
      return Status::FailedPrecondition("'" + (dir / relative).string() +
                                        "' exists; refusing to overwrite it");
    }
  }

  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create '" + dir.string() + "': " + ec.message());
  for (const char* sub : {"agents", "playbooks"}) {
    fs::create_directories(dir / sub, ec);
    if (ec) return Status::IOError("cannot create '" + (dir / sub).string() + "': " + ec.message());
  }
  for (const auto& [relative, contents] : files) {
    CADRE_RETURN_IF_ERROR(write_text_file(dir / relative, contents));
  }

  // The database and keys live here; the folder is private and never committed.
  fs::path state = dir / ".cadre";
  fs::create_directories(state, ec);
  if (ec) return Status::IOError("cannot create '" + state.string() + "': " + ec.message());
  fs::permissions(state, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return Status::IOError("cannot restrict '" + state.string() + "': " + ec.message());
  return write_text_file(state / ".gitignore",
                         "# Cadre's database and keys: never commit this folder.\n*\n");
}

}  // namespace cadre

// files: read, list and (unless read_only) write text files under one root.
//   NAME.read  {path}                  -> {path, content | content_base64, bytes}
//   NAME.list  {path?, recursive?}     -> {path, entries: [{path, type, bytes, modified}], truncated}
//   NAME.write {path, content}         -> {path, bytes}   (atomic replace; idempotent)
// Paths are relative to the root; absolute paths, `..` and symbolic links
// that lead outside are refused before anything is touched.
#include <fstream>

#include "connectors/connector_types.h"
#include "core/encoding.h"
#include "connectors/file_io.h"
#include "core/clock.h"

namespace cadre {
namespace {
namespace fs = std::filesystem;

constexpr size_t kMaxListed = 10000;



class FilesConnector final : public Connector {
 public:
  FilesConnector(ConnectorDef def, const ConnectorEnv& env) : def_(std::move(def)) {
    fs::path root = def_.files.root;
    root_ = root.is_relative() ? env.workspace_root / root : root;
    root_name_ = "the root of connector '" + def_.name + "'";
  }

  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) {
      return Status::FailedPrecondition(def_.where() + ": root " + root_.string() + " is not a folder");
    }
    std::vector<std::shared_ptr<Tool>> tools;
    for (ToolSpec& spec : declared_tools(def_)) {
      const std::string tool = spec.name.substr(def_.name.size() + 1);
      std::function<Result<Json>(const ToolCall&)> invoke;
      if (tool == "read") invoke = [this](const ToolCall& call) { return read(call); };
      if (tool == "list") invoke = [this](const ToolCall& call) { return list(call); };
      if (tool == "write") invoke = [this](const ToolCall& call) { return write(call); };
      tools.push_back(make_declared_tool(std::move(spec), std::move(invoke)));
    }
    return tools;
  }

 private:
  static std::string text_arg(const Json& args, const char* name) {
    auto it = args.find(name);
    return it != args.end() && it->is_string() ? it->get<std::string>() : "";
  }

  Result<fs::path> resolve(const std::string& relative) const {
    return resolve_under_root(root_, relative, root_name_);
  }

  Result<Json> read(const ToolCall& call) {
    const std::string relative = text_arg(call.args, "path");
    CADRE_ASSIGN_OR_RETURN(fs::path path, resolve(relative));
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return Status::NotFound(relative + " is not a file under " + root_name_);
    const auto size = fs::file_size(path, ec);
    if (ec) return errno_status(ec.value(), "cannot read " + relative);
    if (static_cast<int64_t>(size) > def_.files.max_bytes) {
      return Status::FailedPrecondition(relative + " is " + std::to_string(size) + " bytes, more than max_bytes (" +
                                        std::to_string(def_.files.max_bytes) + ")");
    }
    std::ifstream in(path, std::ios::binary);
    std::string content(size, '\0');
    in.read(content.data(), static_cast<std::streamsize>(size));
    if (!in) return Status::IOError("cannot read " + relative);
    Json out = {{"path", relative}, {"bytes", content.size()}};
    if (is_valid_utf8(content)) {
      out["content"] = content;
    } else {
      out["content_base64"] = base64_encode(content);
    }
    return out;
  }

  Result<Json> list(const ToolCall& call) {
    std::string relative = text_arg(call.args, "path");
    if (relative.empty()) relative = ".";
    CADRE_ASSIGN_OR_RETURN(fs::path dir, resolve(relative));
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::NotFound(relative + " is not a folder under " + root_name_);
    const bool recursive = call.args.value("recursive", false);
    Json entries = Json::array();
    bool truncated = false;
    auto add = [&](const fs::directory_entry& entry) {
      fs::path name = entry.path().lexically_relative(fs::weakly_canonical(root_, ec));
      if (!name.empty() && *name.begin() == ".cadre") return;
      std::error_code type_ec;
      const bool is_dir = entry.is_directory(type_ec);
      Json item = {{"path", name.generic_string()}, {"type", is_dir ? "dir" : "file"}};
      if (!is_dir) item["bytes"] = entry.file_size(type_ec);
      auto modified = entry.last_write_time(type_ec);
      if (!type_ec) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::file_clock::to_sys(modified).time_since_epoch());
        item["modified"] = format_time_utc(ms.count());
      }
      entries.push_back(std::move(item));
    };
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        if (entries.size() >= kMaxListed) { truncated = true; break; }
        add(*it);
      }
    } else {
      for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        if (entries.size() >= kMaxListed) { truncated = true; break; }
        add(*it);
      }
    }
    if (ec) return errno_status(ec.value(), "cannot list " + relative);
    std::sort(entries.begin(), entries.end(),
              [](const Json& a, const Json& b) { return a["path"].get<std::string>() < b["path"].get<std::string>(); });
    return Json{{"path", relative}, {"entries", entries}, {"truncated", truncated}};
  }

  Result<Json> write(const ToolCall& call) {
    const std::string relative = text_arg(call.args, "path");
    const std::string content = text_arg(call.args, "content");
    if (static_cast<int64_t>(content.size()) > def_.files.max_bytes) {
      return Status::InvalidArgument("content is " + std::to_string(content.size()) +
                                     " bytes, more than max_bytes (" + std::to_string(def_.files.max_bytes) + ")");
    }
    CADRE_ASSIGN_OR_RETURN(fs::path path, resolve(relative));
    CADRE_RETURN_IF_ERROR(write_file_atomically(path, content, call.idempotency_key, relative));
    return Json{{"path", relative}, {"bytes", content.size()}};
  }

  ConnectorDef def_;
  fs::path root_;
  std::string root_name_;
};

}  // namespace

std::unique_ptr<Connector> make_files_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  return std::make_unique<FilesConnector>(def, env);
}

}  // namespace cadre

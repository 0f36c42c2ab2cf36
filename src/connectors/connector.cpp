#include "connectors/connector.h"

#include "connectors/connector_hub.h"
#include "connectors/connector_types.h"

namespace cadre {

namespace {

class DeclaredTool final : public Tool {
 public:
  DeclaredTool(ToolSpec spec, std::function<Result<Json>(const ToolCall&)> invoke)
      : spec_(std::move(spec)), invoke_(std::move(invoke)) {}
  const ToolSpec& spec() const override { return spec_; }
  Result<Json> invoke(const ToolCall& call) override { return invoke_(call); }

 private:
  ToolSpec spec_;
  std::function<Result<Json>(const ToolCall&)> invoke_;
};

}  // namespace

std::shared_ptr<Tool> make_declared_tool(ToolSpec spec, std::function<Result<Json>(const ToolCall&)> invoke) {
  return std::make_shared<DeclaredTool>(std::move(spec), std::move(invoke));
}

Result<std::unique_ptr<Connector>> make_connector(const ConnectorDef& def, const ConnectorEnv& env) {
  std::unique_ptr<Connector> connector;
  if (def.type == "http") connector = make_http_connector(def, env);
  if (def.type == "webhook") connector = make_webhook_connector(def, env);
  if (def.type == "email") connector = make_email_connector(def, env);
  if (def.type == "files") connector = make_files_connector(def, env);
  if (def.type == "mcp") connector = make_mcp_connector(def, env);
  if (!connector) return Status::InvalidArgument(def.where() + ": unknown type '" + def.type + "'");
  return connector;
}

}  // namespace cadre

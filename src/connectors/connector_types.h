// One factory per connector type; make_connector() (connector.h) picks one.
// Each type's file says what its tools do.
#pragma once

#include <functional>
#include <memory>

#include "connectors/connector.h"

namespace cadre {

std::unique_ptr<Connector> make_http_connector(const ConnectorDef& def, const ConnectorEnv& env);
std::unique_ptr<Connector> make_webhook_connector(const ConnectorDef& def, const ConnectorEnv& env);
std::unique_ptr<Connector> make_email_connector(const ConnectorDef& def, const ConnectorEnv& env);
std::unique_ptr<Connector> make_files_connector(const ConnectorDef& def, const ConnectorEnv& env);
std::unique_ptr<Connector> make_mcp_connector(const ConnectorDef& def, const ConnectorEnv& env);

// The declared tool `spec` (declared_tools()) carried out by `invoke`.
std::shared_ptr<Tool> make_declared_tool(ToolSpec spec, std::function<Result<Json>(const ToolCall&)> invoke);

}  // namespace cadre

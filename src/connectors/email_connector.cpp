// email: the SMTP and IMAP parts land in the next commit.
#include "connectors/connector_types.h"

namespace cadre {
namespace {
class EmailConnector final : public Connector {
 public:
  explicit EmailConnector(ConnectorDef def) : def_(std::move(def)) {}
  Result<std::vector<std::shared_ptr<Tool>>> open() override {
    return Status::FailedPrecondition(def_.where() + ": email is not available in this build yet");
  }

 private:
  ConnectorDef def_;
};
}  // namespace

std::unique_ptr<Connector> make_email_connector(const ConnectorDef& def, const ConnectorEnv&) {
  return std::make_unique<EmailConnector>(def);
}

}  // namespace cadre

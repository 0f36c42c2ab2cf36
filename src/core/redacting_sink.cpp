#include "core/redacting_sink.h"

#include <optional>
#include <string>

#include "core/redact.h"

namespace cadre {

void RedactingSink::log(const spdlog::details::log_msg& msg) {
  if (!inner_->should_log(msg.level)) return;
  std::optional<std::string> clean =
      redacted_copy(std::string_view(msg.payload.data(), msg.payload.size()));
  if (!clean) {
    inner_->log(msg);
    return;
  }
  spdlog::details::log_msg copy = msg;  // the payload is a view: point it at the clean text
  copy.payload = spdlog::string_view_t(clean->data(), clean->size());
  inner_->log(copy);
}

}  // namespace cadre

#include "connectors/mcp/sse_parser.h"

namespace cadre {

bool SseParser::feed(std::string_view bytes, const Handler& on_event) {
  for (char c : bytes) {
    if (c == '\n' && last_was_cr_) {
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = (c == '\r');
    if (c == '\r' || c == '\n') {
      take_line(line_, on_event);
      line_.clear();
      continue;
    }
    if (line_.size() >= max_line_bytes_) return false;
    line_ += c;
  }
  return true;
}

void SseParser::take_line(std::string_view line, const Handler& on_event) {
  if (line.empty()) {
    dispatch(on_event);
    return;
  }
  if (line.front() == ':') return;  // a comment (servers send them to keep the connection open)
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.type = value.empty() ? "message" : std::string(value);
  }
}

void SseParser::dispatch(const Handler& on_event) {
  if (has_data_) on_event(event_);
  event_ = SseEvent{};
  has_data_ = false;
}

}  // namespace cadre

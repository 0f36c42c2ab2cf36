// SseParser: reads a `text/event-stream` body (Server-Sent Events) as it
// arrives, in pieces of any size. Lines end with LF, CRLF or CR; a blank line
// ends an event; `data:` lines are joined with LF; lines starting with `:`
// are comments; the `event` field names the event type (default "message").
// `id` and `retry` are kept by nothing: an MCP client that does not resume
// streams has no use for them.
//
// A line longer than `max_line_bytes` makes feed() return false (the stream is
// then unusable): a server cannot make the client hold an unbounded line.
//
// Thread-safety: none; one parser per stream.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace cadre {

struct SseEvent {
  std::string type = "message";
  std::string data;
};

class SseParser {
 public:
  using Handler = std::function<void(const SseEvent&)>;

  explicit SseParser(size_t max_line_bytes = 16 * 1024 * 1024) : max_line_bytes_(max_line_bytes) {}

  // Feeds the next piece of the body; calls `on_event` for every complete
  // event. False when a line exceeded the limit.
  bool feed(std::string_view bytes, const Handler& on_event);

 private:
  void take_line(std::string_view line, const Handler& on_event);
  void dispatch(const Handler& on_event);

  size_t max_line_bytes_;
  std::string line_;
  bool last_was_cr_ = false;  // a CR just ended a line; a following LF belongs to it
  bool has_data_ = false;
  SseEvent event_;
};

}  // namespace cadre

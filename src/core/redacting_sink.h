// RedactingSink: an spdlog sink that passes every message through the
// redactor (core/redact.h) before handing it to the sink it wraps, so no
// log line carries a registered secret value. With no secret registered it
// forwards the message untouched.
//
// Thread-safety: as the wrapped sink (spdlog's *_mt sinks lock inside).
#pragma once

#include <spdlog/sinks/sink.h>

#include <memory>

namespace cadre {

class RedactingSink final : public spdlog::sinks::sink {
 public:
  explicit RedactingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace cadre

// Small neutral requests the provider and replay tests share.
#pragma once

#include <string>
#include <utility>

#include "models/model.h"

namespace cadre::testing {

inline ChatMessage message(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

// A terse system message and one user question.
inline ChatRequest ask(std::string question) {
  ChatRequest request;
  request.messages.push_back(message("system", "You are terse."));
  request.messages.push_back(message("user", std::move(question)));
  return request;
}

}  // namespace cadre::testing

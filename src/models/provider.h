// ModelProvider: one model API's wire format over HTTP. A provider turns a
// neutral ChatRequest into its API's request, sends it with http_send and
// turns the answer back into a ChatResponse.
//
// Errors (messages name the provider, the model and what went wrong; never
// the key): HTTP 429 -> ResourceExhausted; 5xx, 529 and transport failures
// -> Unavailable; no answer in time -> DeadlineExceeded; 401/403 ->
// FailedPrecondition ("the API key was refused"); other 4xx ->
// InvalidArgument with the API's own error message; an answer that is not
// the expected JSON -> Internal. When the API asked for a delay
// (`Retry-After`), it is stored in *retry_after (milliseconds).
//
// Thread-safety: chat() and embed() may be called from several threads.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/duration.h"
#include "models/model.h"

namespace cadre {

class ModelProvider {
 public:
  virtual ~ModelProvider() = default;
  virtual Result<ChatResponse> chat(const ModelEndpoint& endpoint, const std::string& api_key,
                                    const ChatRequest& request, DurationMs* retry_after) = 0;
  virtual Result<EmbedResponse> embed(const ModelEndpoint& endpoint, const std::string& api_key,
                                      const std::vector<std::string>& texts, DurationMs* retry_after) = 0;
};

// OpenAI-compatible chat completions (/chat/completions, tools as
// "functions", response_format json_schema) and embeddings (/embeddings).
// Serves OpenAI, Ollama, llama.cpp's server, vLLM, LM Studio, OpenRouter.
std::unique_ptr<ModelProvider> make_openai_provider();

// The Anthropic Messages API (/messages with tool_use and tool_result
// blocks, x-api-key and anthropic-version headers). It has no embeddings:
// embed() fails with FailedPrecondition.
std::unique_ptr<ModelProvider> make_anthropic_provider();

// Answers from a recording (JSON lines written by ModelGateway::record_to):
// a chat request gets the response recorded for the same request_key; the
// same request recorded several times is answered in recorded order, the
// last answer repeating. A request not in the recording fails with
// NotFound naming the key and the start of its last user message.
// Embeddings are answered the same way, keyed by the texts.
Result<std::unique_ptr<ModelProvider>> make_replay_provider(const std::filesystem::path& recording);

}  // namespace cadre

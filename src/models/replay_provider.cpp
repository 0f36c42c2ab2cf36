// Answers from a recording of model traffic (see provider.h). A recording is
// JSON lines as ModelGateway::record_to writes them:
//   {"kind":"chat","key":K,"tier":..,"provider":..,"model":..,"request":{..},"response":{..}}
//   {"kind":"embed","key":K,"texts":[..],"vectors":[[..],..]}
// A chat line may also hold "cached": true (the response cache answered it
// while recording); replay treats it like any other.
// A chat line's key is recomputed from its request (replay_key: ids and
// times Cadre puts in prompts are masked) rather than trusted, so a
// recording keeps matching after the neutral request gains a field with a
// default, and a hand-edited request still finds its answer.
#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>

#include "models/provider.h"

namespace cadre {
namespace {

constexpr size_t kKeyShown = 12;
constexpr size_t kMessageShown = 80;

// Recorded answers to one request, handed out in order; the last repeats.
template <typename Response>
struct AnswerQueue {
  std::vector<Response> answers;
  size_t next = 0;

  const Response& take() {
    const Response& answer = answers[std::min(next, answers.size() - 1)];
    if (next < answers.size()) ++next;
    return answer;
  }
};

// The first kMessageShown bytes, cut at a UTF-8 character boundary so the
// message stays valid text.
std::string start_of(const std::string& text) {
  if (text.size() <= kMessageShown) return text;
  size_t cut = kMessageShown;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string last_user_message(const ChatRequest& request) {
  for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
    if (it->role == "user") return start_of(it->content);
  }
  return "";
}

class ReplayProvider final : public ModelProvider {
 public:
  explicit ReplayProvider(std::filesystem::path recording) : recording_(std::move(recording)) {}

  Status load() {
    std::ifstream in(recording_, std::ios::binary);
    if (!in) return Status::NotFound("cannot open the model recording " + recording_.string());
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Status s = load_line(line);
      if (!s.ok()) {
        return Status::InvalidArgument(recording_.string() + ":" + std::to_string(number) + ": " +
                                       s.message());
      }
    }
    if (in.bad()) return Status::IOError("cannot read the model recording " + recording_.string());
    return Status::Ok();
  }

  Result<ChatResponse> chat(const ModelEndpoint&, const std::string&, const ChatRequest& request,
                            DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    std::string key = replay_key(request);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = chats_.find(key);
    if (it == chats_.end()) {
      return Status::NotFound(
          "this model request is not in the recording " + recording_.string() + " (key " +
          key.substr(0, kKeyShown) + ", last user message: \"" + last_user_message(request) +
          "\"); record one by running `cadre serve --record FILE` against a real "
          "provider and replaying that file");
    }
    return it->second.take();
  }

  Result<EmbedResponse> embed(const ModelEndpoint&, const std::string&,
                              const std::vector<std::string>& texts,
                              DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    std::string key = embed_key(texts);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = embeddings_.find(key);
    if (it != embeddings_.end()) return it->second.take();
    // Recorded with another batch size: answer text by text when every
    // text was embedded somewhere in the recording.
    EmbedResponse response;
    for (const auto& text : texts) {
      auto vector = vectors_by_text_.find(text);
      if (vector == vectors_by_text_.end()) {
        std::string start = start_of(text);
        return Status::NotFound(
            "these texts are not in the recording " + recording_.string() + " (key " +
            key.substr(0, kKeyShown) + ", e.g. \"" + start +
            "\"); record them by running `cadre serve --record FILE` against a real "
            "provider and replaying that file");
      }
      response.vectors.push_back(vector->second);
    }
    return response;
  }

 private:
  Status load_line(const std::string& line) {
    CADRE_ASSIGN_OR_RETURN(Json j, parse_json(line, "line"));
    if (!j.is_object()) return Status::InvalidArgument("expected a JSON object");
    auto kind = j.find("kind");
    if (kind == j.end() || !kind->is_string())
      return Status::InvalidArgument("kind: expected chat or embed");
    if (*kind == "chat") return load_chat(j);
    if (*kind == "embed") return load_embed(j);
    return Status::InvalidArgument("kind: expected chat or embed, got " + dump_json(*kind));
  }

  Status load_chat(const Json& j) {
    auto request = j.find("request");
    if (request == j.end()) return Status::InvalidArgument("request: required field is missing");
    Result<ChatRequest> parsed_request = chat_request_from_json(*request);
    if (!parsed_request.ok()) return parsed_request.status().with_context("request");
    auto response = j.find("response");
    if (response == j.end()) return Status::InvalidArgument("response: required field is missing");
    Result<ChatResponse> parsed_response = chat_response_from_json(*response);
    if (!parsed_response.ok()) return parsed_response.status().with_context("response");
    chats_[replay_key(*parsed_request)].answers.push_back(std::move(parsed_response).value());
    return Status::Ok();
  }

  Status load_embed(const Json& j) {
    auto texts = j.find("texts");
    if (texts == j.end() || !texts->is_array())
      return Status::InvalidArgument("texts: expected an array of strings");
    auto vectors = j.find("vectors");
    if (vectors == j.end() || !vectors->is_array()) {
      return Status::InvalidArgument("vectors: expected an array of arrays of numbers");
    }
    if (vectors->size() != texts->size()) {
      return Status::InvalidArgument("vectors: " + std::to_string(vectors->size()) +
                                     " vectors for " + std::to_string(texts->size()) + " texts");
    }
    std::vector<std::string> text_list;
    EmbedResponse response;
    for (size_t i = 0; i < texts->size(); ++i) {
      const Json& text = (*texts)[i];
      if (!text.is_string())
        return Status::InvalidArgument("texts[" + std::to_string(i) + "]: expected a string");
      text_list.push_back(text.get<std::string>());
      const Json& wire = (*vectors)[i];
      if (!wire.is_array())
        return Status::InvalidArgument("vectors[" + std::to_string(i) + "]: expected an array");
      std::vector<float> vector;
      vector.reserve(wire.size());
      for (const auto& value : wire) {
        if (!value.is_number()) {
          return Status::InvalidArgument("vectors[" + std::to_string(i) +
                                         "]: holds a value that is not a number");
        }
        vector.push_back(value.get<float>());
      }
      response.vectors.push_back(std::move(vector));
    }
    for (size_t i = 0; i < text_list.size(); ++i)
      vectors_by_text_[text_list[i]] = response.vectors[i];
    embeddings_[embed_key(text_list)].answers.push_back(std::move(response));
    return Status::Ok();
  }

  std::filesystem::path recording_;
  std::mutex mutex_;  // guards the queues' positions
  std::map<std::string, AnswerQueue<ChatResponse>> chats_;
  std::map<std::string, AnswerQueue<EmbedResponse>> embeddings_;
  std::map<std::string, std::vector<float>> vectors_by_text_;
};

}  // namespace

Result<std::unique_ptr<ModelProvider>> make_replay_provider(
    const std::filesystem::path& recording) {
  auto provider = std::make_unique<ReplayProvider>(recording);
  CADRE_RETURN_IF_ERROR(provider->load());
  return std::unique_ptr<ModelProvider>(std::move(provider));
}

}  // namespace cadre

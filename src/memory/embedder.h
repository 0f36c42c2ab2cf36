// Embedder: text -> unit vectors for the vector index. Two kinds:
//   - the built-in feature-hashing embedder (no model needed): content words
//     (lower case, stop words dropped, light suffix stemming) and their
//     character trigrams are hashed into a fixed number of signed
//     dimensions, so texts that share words or word stems land close;
//   - the `embed` tier of the model gateway, in batches.
// Every vector returned is L2-normalized, so inner product = cosine; but a
// text without content words gets a vector whose only non-zero component is
// a small constant (1e-3 in the first dimension), which scores about 0
// against everything (a zero vector would give inner-product search no
// direction).
//
// Thread-safety: embed() may be called from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace cadre {

class ModelGateway;

class Embedder {
 public:
  virtual ~Embedder() = default;
  // Names what makes the vectors; stored vectors from another id are stale.
  virtual std::string id() const = 0;
  // One vector per text, same order. A model failure may set *retry_after.
  virtual Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts,
                                                        DurationMs* retry_after) = 0;
};

std::unique_ptr<Embedder> make_hashing_embedder(int dims = 256);
// Uses the gateway's `embed` tier; its id names the tier's primary model.
std::unique_ptr<Embedder> make_model_embedder(ModelGateway& gateway);

// The words of `text` that carry meaning, for indexing and matching: ASCII
// letters (lower-cased) and digits, and letters of other scripts kept whole
// as UTF-8; other ASCII bytes, Unicode punctuation and symbols and invalid
// UTF-8 split words. Common English stop words and single letters are
// dropped, then words of ASCII letters are stemmed ("renewed", "renewal" ->
// "renew"; "subscription", "subscribed" -> "subscrib").
std::vector<std::string> content_words(std::string_view text);

}  // namespace cadre

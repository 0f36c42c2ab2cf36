// Content words, the built-in feature-hashing embedder and the model
// embedder (see embedder.h).
//
// Words: ASCII letters and digits are word characters (lower-cased); so are
// non-ASCII letters of any script, kept byte for byte (not case-folded), so a
// UTF-8 sequence is never cut in half and "München" stays one word. ASCII
// punctuation, the Unicode punctuation and symbol blocks (general
// punctuation, currency, arrows, CJK punctuation, emoji ...) and invalid
// UTF-8 bytes split words. Single ASCII letters ("s" of "customer's") are
// dropped; single digits are kept.
//
// Stemming: Porter's algorithm (1980) for words of ASCII letters only, with
// three changes: a plural "-us"/"-is" keeps its "s" (status, analysis); a few
// Latin stem alternations are joined ("subscription" -> "subscribe",
// "reception" -> "receive", "consumption" -> "consume", "reduction" ->
// "reduce"); and an adverb's "-ly" goes after c d e g h k m n r t when at
// least four letters stay ("monthly" -> "month").
//
// Hashing: FNV-1a 64 then a murmur3 finalizer, so a word lands in the same
// dimension with the same sign on every platform and in every process.
#include "memory/embedder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>

#include "models/gateway.h"

namespace cadre {
namespace {

// --- words -----------------------------------------------------------------

// Sorted, for binary search. Lower case; contractions lose their apostrophe
// before they get here ("don't" -> "don", "t").
constexpr std::string_view kStopWords[] = {
    "a",          "about",   "above",   "after",     "again",    "against",    "all",     "also",
    "am",         "an",      "and",     "any",       "are",      "aren",       "as",      "at",
    "be",         "because", "been",    "before",    "being",    "below",      "between", "both",
    "but",        "by",      "can",     "could",     "couldn",   "did",        "didn",    "do",
    "does",       "doesn",   "doing",   "don",       "down",     "during",     "each",    "few",
    "for",        "from",    "further", "had",       "hadn",     "has",        "hasn",    "have",
    "haven",      "having",  "he",      "her",       "here",     "hers",       "herself", "him",
    "himself",    "his",     "how",     "i",         "if",       "in",         "into",    "is",
    "isn",        "it",      "its",     "itself",    "just",     "ll",         "me",      "might",
    "more",       "most",    "must",    "mustn",     "my",       "myself",     "no",      "nor",
    "not",        "now",     "of",      "off",       "on",       "once",       "only",    "or",
    "other",      "our",     "ours",    "ourselves", "out",      "over",       "own",     "re",
    "s",          "same",    "shall",   "she",       "should",   "shouldn",    "so",      "some",
    "such",       "t",       "than",    "that",      "the",      "their",      "theirs",  "them",
    "themselves", "then",    "there",   "these",     "they",     "this",       "those",   "through",
    "to",         "too",     "under",   "until",     "up",       "us",         "ve",      "very",
    "was",        "wasn",    "we",      "were",      "weren",    "what",       "when",    "where",
    "which",      "while",   "who",     "whom",      "why",      "will",       "with",    "would",
    "wouldn",     "you",     "your",    "yours",     "yourself", "yourselves",
};

bool is_stop_word(std::string_view word) {
  return std::binary_search(std::begin(kStopWords), std::end(kStopWords), word);
}

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Punctuation and symbols outside ASCII: they split words like ASCII
// punctuation does.
bool is_separator_code_point(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 ||  // Latin-1 controls, punctuation
         (cp >= 0x2000 && cp <= 0x2BFF) ||  // general punctuation .. miscellaneous symbols
         (cp >= 0x2E00 && cp <= 0x2E7F) ||  // supplemental punctuation
         (cp >= 0x3000 && cp <= 0x303F) ||  // CJK punctuation, ideographic space
         (cp >= 0xFE10 && cp <= 0xFE1F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
         cp == 0xFEFF ||  // byte order mark
         (cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
         (cp >= 0xFFF0 && cp <= 0xFFFF) ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);  // emoji and pictographs
}

// The length of the valid UTF-8 sequence at text[i] (whose first byte is
// >= 0x80) and its code point; 0 when the bytes are not valid UTF-8.
size_t decode_utf8(std::string_view text, size_t i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  uint32_t value = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, value = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, value = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    value = (value << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((length == 3 && value < 0x800) || (length == 4 && (value < 0x10000 || value > 0x10FFFF)) ||
      (value >= 0xD800 && value <= 0xDFFF)) {
    return 0;
  }
  *cp = value;
  return length;
}

// --- Porter stemmer --------------------------------------------------------
//
// Follows Martin Porter's reference C implementation: b is the word, k the
// index of its last letter, j the end of the stem a suffix test leaves.

class PorterStemmer {
 public:
  explicit PorterStemmer(std::string& word) : b_(word), k_(static_cast<int>(word.size()) - 1) {}

  void run() {
    if (k_ <= 1) return;  // words of one or two letters stay as they are
    step1ab();
    if (k_ > 0) {
      step1c();
      join_latin_stems();
      step2();
      step3();
      step4();
      step5();
    }
    b_.resize(static_cast<size_t>(k_ + 1));
  }

 private:
  bool cons(int i) const {
    switch (b_[i]) {
      case 'a':
      case 'e':
      case 'i':
      case 'o':
      case 'u':
        return false;
      case 'y':
        return i == 0 ? true : !cons(i - 1);
      default:
        return true;
    }
  }

  // The number of vowel-consonant sequences in b[0..j].
  int m() const {
    int n = 0;
    int i = 0;
    while (true) {
      if (i > j_) return n;
      if (!cons(i)) break;
      ++i;
    }
    ++i;
    while (true) {
      while (true) {
        if (i > j_) return n;
        if (cons(i)) break;
        ++i;
      }
      ++i;
      ++n;
      while (true) {
        if (i > j_) return n;
        if (!cons(i)) break;
        ++i;
      }
      ++i;
    }
  }

  bool vowel_in_stem() const {
    for (int i = 0; i <= j_; ++i)
      if (!cons(i)) return true;
    return false;
  }

  bool double_consonant(int j) const { return j >= 1 && b_[j] == b_[j - 1] && cons(j); }

  // consonant-vowel-consonant ending at i, the last not w, x or y.
  bool cvc(int i) const {
    if (i < 2 || !cons(i) || cons(i - 1) || !cons(i - 2)) return false;
    char ch = b_[i];
    return ch != 'w' && ch != 'x' && ch != 'y';
  }

  bool ends(std::string_view s) {
    int length = static_cast<int>(s.size());
    if (length > k_ + 1 || b_[k_] != s.back()) return false;
    if (std::string_view(b_).substr(static_cast<size_t>(k_ + 1 - length), s.size()) != s)
      return false;
    j_ = k_ - length;
    return true;
  }

  void set_to(std::string_view s) {
    b_.resize(static_cast<size_t>(j_ + 1));
    b_.append(s);
    k_ = j_ + static_cast<int>(s.size());
  }

  void step1ab() {
    if (b_[k_] == 's') {
      if (ends("sses")) {
        k_ -= 2;
      } else if (ends("ies")) {
        set_to("i");
      } else if (b_[k_ - 1] != 's' && b_[k_ - 1] != 'u' && b_[k_ - 1] != 'i') {
        --k_;  // "-us" and "-is" are not plurals: status, analysis
      }
    }
    if (ends("eed")) {
      if (m() > 0) --k_;
    } else if ((ends("ed") || ends("ing")) && vowel_in_stem()) {
      k_ = j_;
      b_.resize(static_cast<size_t>(k_ + 1));
      if (ends("at")) {
        set_to("ate");
      } else if (ends("bl")) {
        set_to("ble");
      } else if (ends("iz")) {
        set_to("ize");
      } else if (double_consonant(k_)) {
        --k_;
        char ch = b_[k_];
        if (ch == 'l' || ch == 's' || ch == 'z') ++k_;
        b_.resize(static_cast<size_t>(k_ + 1));
      } else {
        j_ = k_;
        if (m() == 1 && cvc(k_)) set_to("e");
      }
    }
    b_.resize(static_cast<size_t>(k_ + 1));
  }

  void step1c() {
    if (ends("y") && vowel_in_stem()) b_[k_] = 'i';
  }

  // Latin stems whose noun and verb differ: join them on the verb.
  void join_latin_stems() {
    struct Alternation {
      std::string_view noun;
      std::string_view verb;
    };
    static constexpr Alternation kAlternations[] = {
        {"scription", "scribe"}, {"ception", "ceive"}, {"sumption", "sume"}, {"duction", "duce"}};
    for (const auto& a : kAlternations) {
      if (ends(a.noun) && j_ >= 1) {
        set_to(a.verb);
        return;
      }
    }
  }

  struct Rule {
    std::string_view suffix;
    std::string_view replacement;
  };

  // Steps 2 and 3: the first rule whose suffix ends the word decides; it
  // applies when the stem before it has a measure above 0. False when no
  // suffix matched.
  bool apply_first(std::span<const Rule> rules) {
    for (const Rule& rule : rules) {
      if (!ends(rule.suffix)) continue;
      if (m() > 0) set_to(rule.replacement);
      return true;
    }
    return false;
  }

  void step2() {
    static constexpr Rule kRules[] = {{"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"},
                                      {"anci", "ance"},   {"izer", "ize"},    {"bli", "ble"},
                                      {"alli", "al"},     {"entli", "ent"},   {"eli", "e"},
                                      {"ousli", "ous"},   {"ization", "ize"}, {"ation", "ate"},
                                      {"ator", "ate"},    {"alism", "al"},    {"iveness", "ive"},
                                      {"fulness", "ful"}, {"ousness", "ous"}, {"aliti", "al"},
                                      {"iviti", "ive"},   {"biliti", "ble"},  {"logi", "log"}};
    if (apply_first(kRules)) return;
    // An adverb's -ly (step 1c made it -li) after a letter that ends words.
    if (ends("li") && j_ >= 3 &&
        std::string_view("cdeghkmnrt").find(b_[j_]) != std::string_view::npos) {
      k_ = j_;
      b_.resize(static_cast<size_t>(k_ + 1));
    }
  }

  void step3() {
    static constexpr Rule kRules[] = {{"icate", "ic"}, {"ative", ""},  {"alize", "al"},
                                      {"iciti", "ic"}, {"ical", "ic"}, {"ful", ""},
                                      {"ness", ""}};
    apply_first(kRules);
  }

  // The first suffix that ends the word goes when the stem before it has a
  // measure above 1 ("-ion" only after s or t).
  void step4() {
    static constexpr std::string_view kSuffixes[] = {
        "al",  "ance", "ence", "er",  "ic",  "able", "ible", "ant", "ement", "ment",
        "ent", "ion",  "ou",   "ism", "ate", "iti",  "ous",  "ive", "ize"};
    for (std::string_view suffix : kSuffixes) {
      if (!ends(suffix)) continue;
      if (suffix == "ion" && (j_ < 0 || (b_[j_] != 's' && b_[j_] != 't'))) continue;
      if (m() > 1) {
        k_ = j_;
        b_.resize(static_cast<size_t>(k_ + 1));
      }
      return;
    }
  }

  void step5() {
    j_ = k_;
    if (b_[k_] == 'e') {
      int a = m();
      if (a > 1 || (a == 1 && !cvc(k_ - 1))) --k_;
    }
    if (b_[k_] == 'l' && double_consonant(k_)) {
      j_ = k_;
      if (m() > 1) --k_;
    }
  }

  std::string& b_;
  int k_;
  int j_ = 0;
};

bool is_ascii_letters(std::string_view word) {
  for (char c : word)
    if (c < 'a' || c > 'z') return false;
  return true;
}

void stem(std::string& word) {
  if (!is_ascii_letters(word)) return;  // numbers, codes and other scripts stay whole
  PorterStemmer(word).run();
}

// Appends `word` (lower case already) to `out` unless it carries no meaning.
void emit(std::string& word, std::vector<std::string>& out) {
  if (word.empty()) return;
  const bool single_letter = word.size() == 1 && word[0] >= 'a' && word[0] <= 'z';
  if (!single_letter && !is_stop_word(word)) {
    stem(word);
    out.push_back(std::move(word));
  }
  word.clear();
}

// --- hashing ---------------------------------------------------------------

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
constexpr uint64_t kTrigramSeed = 0x9e3779b97f4a7c15ull;  // trigrams and words hash apart

uint64_t fnv1a(std::string_view bytes, uint64_t h) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// murmur3's finalizer: every input bit reaches the dimension and the sign.
uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

constexpr float kTrigramWeight = 0.3f;
// An empty text's vector: one small component, so that it scores about 0
// against every other vector instead of being a zero vector (which gives
// the same distance to everything and no direction to search from).
constexpr float kEmptyComponent = 1e-3f;

void add_feature(uint64_t h, float weight, std::vector<float>& v) {
  h = mix(h);
  const size_t dim = static_cast<size_t>(h % v.size());
  v[dim] += (h >> 63) != 0 ? -weight : weight;
}

// Scales `v` to unit length; false when it is all zeros (or not finite).
bool normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
  return true;
}

std::vector<float> empty_vector(size_t dims) {
  std::vector<float> v(dims, 0.0f);
  if (!v.empty()) v[0] = kEmptyComponent;
  return v;
}

class HashingEmbedder : public Embedder {
 public:
  explicit HashingEmbedder(int dims) : dims_(static_cast<size_t>(std::max(1, dims))) {}

  std::string id() const override { return "builtin:hash-" + std::to_string(dims_) + "-v1"; }

  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts,
                                                DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (const auto& text : texts) out.push_back(embed_one(text));
    return out;
  }

 private:
  std::vector<float> embed_one(std::string_view text) const {
    std::vector<std::string> words = content_words(text);
    if (words.empty()) return empty_vector(dims_);
    std::sort(words.begin(), words.end());
    std::vector<float> v(dims_, 0.0f);
    std::string marked;
    for (size_t i = 0; i < words.size();) {
      size_t end = i + 1;
      while (end < words.size() && words[end] == words[i]) ++end;
      const float weight = 1.0f + std::log(static_cast<float>(end - i));  // sublinear tf
      const std::string& word = words[i];
      add_feature(fnv1a(word, kFnvOffset), weight, v);
      // Character trigrams with boundary marks: "^re", "ren", ..., "ew$".
      marked.assign(1, '^');
      marked += word;
      marked += '$';
      for (size_t t = 0; t + 3 <= marked.size(); ++t)
        add_feature(fnv1a(std::string_view(marked).substr(t, 3), kTrigramSeed),
                    kTrigramWeight * weight, v);
      i = end;
    }
    if (!normalize(v)) return empty_vector(dims_);
    return v;
  }

  size_t dims_;
};

class ModelEmbedder : public Embedder {
 public:
  explicit ModelEmbedder(ModelGateway& gateway) : gateway_(gateway) {
    auto tier = gateway.config().tiers.find("embed");
    if (tier != gateway.config().tiers.end()) {
      model_ = tier->second.primary.model;
      id_ = "model:" + tier->second.primary.provider + "/" + model_;
      configured_ = true;
    } else {
      id_ = "model:none";
    }
  }

  std::string id() const override { return id_; }

  Result<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts,
                                                DurationMs* retry_after) override {
    if (retry_after != nullptr) *retry_after = -1;
    if (!configured_)
      return Status::FailedPrecondition("embedder " + id_ +
                                        ": no models.tiers.embed is configured");
    if (texts.empty()) return std::vector<std::vector<float>>{};
    CADRE_ASSIGN_OR_RETURN(EmbedResult result, gateway_.embed(texts, retry_after));
    // A fallback of another model answered: its vectors live in another
    // space than the ones stored under this embedder's id.
    if (result.info.model != model_) {
      return Status::Unavailable("embedder " + id_ + ": the primary model failed and '" +
                                 result.info.provider + "/" + result.info.model +
                                 "' answered; its vectors cannot be mixed with the primary's");
    }
    std::vector<std::vector<float>>& vectors = result.response.vectors;
    if (vectors.size() != texts.size()) {
      return Status::Internal("embedder " + id_ + ": asked for " + std::to_string(texts.size()) +
                              " vectors, got " + std::to_string(vectors.size()));
    }
    size_t dims = vectors[0].size();
    size_t expected = dims_.load();
    if (expected == 0) expected = dims;
    for (size_t i = 0; i < vectors.size(); ++i) {
      if (vectors[i].size() != expected || vectors[i].empty()) {
        return Status::InvalidArgument("embedder " + id_ + ": vector " + std::to_string(i) +
                                       " has " + std::to_string(vectors[i].size()) +
                                       " values, expected " + std::to_string(expected));
      }
      for (float x : vectors[i]) {
        if (!std::isfinite(x)) {
          return Status::InvalidArgument("embedder " + id_ + ": vector " + std::to_string(i) +
                                         " holds a value that is not a finite number");
        }
      }
      if (!normalize(vectors[i])) vectors[i] = empty_vector(expected);
    }
    size_t none = 0;
    dims_.compare_exchange_strong(none, expected);
    return std::move(vectors);
  }

 private:
  ModelGateway& gateway_;
  std::string id_;
  std::string model_;
  bool configured_ = false;
  std::atomic<size_t> dims_{0};  // the size of the first vectors seen; every later one must match
};

}  // namespace

std::vector<std::string> content_words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (is_ascii_alnum(c)) {
        word.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
      } else {
        emit(word, out);
      }
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t length = decode_utf8(text, i, &cp);
    if (length == 0 || is_separator_code_point(cp)) {
      emit(word, out);
      i += std::max<size_t>(length, 1);
      continue;
    }
    word.append(text.substr(i, length));
    i += length;
  }
  emit(word, out);
  return out;
}

std::unique_ptr<Embedder> make_hashing_embedder(int dims) {
  return std::make_unique<HashingEmbedder>(dims);
}

std::unique_ptr<Embedder> make_model_embedder(ModelGateway& gateway) {
  return std::make_unique<ModelEmbedder>(gateway);
}

}  // namespace cadre

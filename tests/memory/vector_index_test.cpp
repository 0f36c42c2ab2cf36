// The vector index finds the stored vectors nearest a query almost as well
// as comparing with every one of them, survives being saved and loaded,
// never trusts a file it did not write for this embedder (a damaged one is
// reported, and the index starts empty instead of crashing), grows as
// vectors arrive, lets searches run while vectors are added, and follows
// the store's vectors: catching up with what was stored since, and starting
// over when the store dropped them.
#include "memory/vector_index.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "store/store.h"
#include "test_support.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr char kEmbedder[] = "builtin:hash-32-v1";

std::vector<float> random_unit(std::mt19937& rng, int dims) {
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(dims));
  double sum = 0;
  for (float& x : v) {
    x = normal(rng);
    sum += static_cast<double>(x) * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(sum));
  return v;
}

// Vectors labelled 1..n (vseq = label).
std::vector<StoredVector> random_vectors(int n, int dims, uint32_t seed, int64_t first_label = 1) {
  std::mt19937 rng(seed);
  std::vector<StoredVector> out;
  for (int i = 0; i < n; ++i) {
    StoredVector v;
    v.label = first_label + i;
    v.vseq = v.label;
    v.values = random_unit(rng, dims);
    out.push_back(std::move(v));
  }
  return out;
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

std::vector<int64_t> brute_force(const std::vector<StoredVector>& vectors,
                                 const std::vector<float>& query, int k) {
  std::vector<std::pair<double, int64_t>> scored;
  for (const auto& v : vectors) scored.emplace_back(dot(v.values, query), v.label);
  std::partial_sort(scored.begin(), scored.begin() + k, scored.end(), std::greater<>());
  std::vector<int64_t> labels;
  for (int i = 0; i < k; ++i) labels.push_back(scored[static_cast<size_t>(i)].second);
  return labels;
}

std::vector<int64_t> labels_of(const std::vector<RankedLabel>& ranked) {
  std::vector<int64_t> labels;
  for (const auto& r : ranked) labels.push_back(r.label);
  return labels;
}

std::unique_ptr<VectorIndex> open_index(VectorIndexOptions options,
                                        const std::string& embedder = kEmbedder) {
  auto index = VectorIndex::open(std::move(options), embedder);
  EXPECT_TRUE(index.ok()) << index.status().to_string();
  return index.ok() ? std::move(index).value() : nullptr;
}

std::unique_ptr<VectorIndex> in_memory() {
  return open_index(VectorIndexOptions{});
}

// What the process logs while it lives.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return stream_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream stream_;
};

class VectorIndexFileTest : public ::testing::Test {
 protected:
  VectorIndexOptions options() const {
    VectorIndexOptions o;
    o.file = dir_.path() / "memory" / "vectors.hnsw";
    return o;
  }
  fs::path file() const { return options().file; }
  fs::path sidecar() const { return fs::path(file().string() + ".json"); }

  // An index of `n` random vectors, saved.
  std::vector<StoredVector> save_some(int n, int dims = 32) {
    auto vectors = random_vectors(n, dims, 7);
    auto index = open_index(options());
    EXPECT_TRUE(index->add(vectors).ok());
    Status s = index->save();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return vectors;
  }

  TempDir dir_;
};

// --- searching ---

// Random unit vectors are the hard case for HNSW (text embeddings have far
// fewer effective dimensions); at 32 dimensions the default options reach
// a recall of about 0.98.
TEST(VectorIndex, FindsNearestNeighboursAlmostAsWellAsBruteForce) {
  constexpr int kDims = 32;
  auto vectors = random_vectors(5000, kDims, 1);
  auto index = in_memory();
  ASSERT_TRUE(index->add(vectors).ok());
  ASSERT_EQ(index->size(), 5000u);
  EXPECT_EQ(index->last_vseq(), 5000);

  std::mt19937 rng(2);
  int found = 0, asked = 0;
  for (int q = 0; q < 200; ++q) {
    auto query = random_unit(rng, kDims);
    auto ranked = index->search(query, 10);
    ASSERT_TRUE(ranked.ok()) << ranked.status().to_string();
    ASSERT_EQ(ranked->size(), 10u);
    auto exact = brute_force(vectors, query, 10);
    std::set<int64_t> truth(exact.begin(), exact.end());
    for (const auto& r : *ranked) found += truth.count(r.label);
    asked += 10;
    // Best first, and the score is the cosine similarity.
    for (size_t i = 1; i < ranked->size(); ++i)
      EXPECT_GE((*ranked)[i - 1].score, (*ranked)[i].score);
    const auto& best = (*ranked)[0];
    EXPECT_NEAR(best.score, dot(vectors[static_cast<size_t>(best.label - 1)].values, query), 1e-5);
  }
  const double recall = static_cast<double>(found) / asked;
  EXPECT_GE(recall, 0.95) << "recall@10 " << recall;
}

TEST(VectorIndex, ScoresAreCosineSimilarities) {
  auto index = in_memory();
  std::vector<StoredVector> basis;
  for (int i = 0; i < 4; ++i) {
    StoredVector v;
    v.label = 10 + i;
    v.vseq = i + 1;
    v.values.assign(4, 0.0f);
    v.values[static_cast<size_t>(i)] = 1.0f;
    basis.push_back(v);
  }
  ASSERT_TRUE(index->add(basis).ok());
  const float h = std::sqrt(0.5f);
  auto ranked = index->search({h, h, 0, 0}, 4);
  ASSERT_TRUE(ranked.ok());
  ASSERT_EQ(ranked->size(), 4u);
  EXPECT_EQ(std::set<int64_t>({(*ranked)[0].label, (*ranked)[1].label}),
            (std::set<int64_t>{10, 11}));
  EXPECT_NEAR((*ranked)[0].score, h, 1e-6);
  EXPECT_NEAR((*ranked)[2].score, 0.0, 1e-6);
}

TEST(VectorIndex, AskingForMoreThanItHoldsGivesEverything) {
  auto index = in_memory();
  std::mt19937 rng(3);
  auto empty = index->search(random_unit(rng, 8), 5);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());

  ASSERT_TRUE(index->add(random_vectors(5, 8, 4)).ok());
  auto all = index->search(random_unit(rng, 8), 500);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(all->size(), 5u);
  auto none = index->search(random_unit(rng, 8), 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(VectorIndex, RefusesVectorsAndQueriesOfAnotherSize) {
  auto index = in_memory();
  ASSERT_TRUE(index->add(random_vectors(3, 8, 5)).ok());
  Status wider = index->add(random_vectors(1, 16, 6, 100));
  EXPECT_TRUE(wider.is(StatusCode::kInvalidArgument)) << wider.to_string();
  auto mixed = random_vectors(2, 8, 6, 200);
  mixed[1].values.push_back(0);
  EXPECT_TRUE(index->add(mixed).is(StatusCode::kInvalidArgument));
  auto query = index->search(std::vector<float>(16, 0.25f), 3);
  ASSERT_FALSE(query.ok());
  EXPECT_NE(query.status().message().find("a query of 16 values, the index holds vectors of 8"),
            std::string::npos)
      << query.status().message();
  EXPECT_EQ(index->size(), 3u);
}

TEST(VectorIndex, GrowsPastItsInitialCapacity) {
  auto vectors = random_vectors(3000, 16, 8);
  auto index = in_memory();
  for (size_t start = 0; start < vectors.size(); start += 250) {
    std::vector<StoredVector> batch(vectors.begin() + static_cast<std::ptrdiff_t>(start),
                                    vectors.begin() + static_cast<std::ptrdiff_t>(start + 250));
    Status s = index->add(batch);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_EQ(index->size(), 3000u);
  EXPECT_EQ(index->last_vseq(), 3000);
  int self_found = 0;
  for (size_t i = 0; i < vectors.size(); i += 30) {
    auto ranked = index->search(vectors[i].values, 1);
    ASSERT_TRUE(ranked.ok());
    self_found += (!ranked->empty() && (*ranked)[0].label == vectors[i].label);
  }
  EXPECT_GE(self_found, 98);  // of 100
}

TEST(VectorIndex, AddingALabelAgainReplacesItsVector) {
  auto vectors = random_vectors(500, 32, 9);
  auto index = in_memory();
  ASSERT_TRUE(index->add(vectors).ok());
  const std::vector<float> old_vector = vectors[6].values;  // label 7
  std::mt19937 rng(10);
  StoredVector replacement{501, 7, random_unit(rng, 32)};
  ASSERT_TRUE(index->add({replacement}).ok());
  EXPECT_EQ(index->size(), 500u);
  EXPECT_EQ(index->last_vseq(), 501);

  auto ranked = index->search(replacement.values, 1);
  ASSERT_TRUE(ranked.ok());
  ASSERT_EQ(ranked->size(), 1u);
  EXPECT_EQ((*ranked)[0].label, 7);
  EXPECT_NEAR((*ranked)[0].score, 1.0, 1e-5);

  auto old = index->search(old_vector, 500);
  ASSERT_TRUE(old.ok());
  ASSERT_FALSE(old->empty());
  EXPECT_NE((*old)[0].label, 7);
  for (const auto& r : *old) {
    if (r.label == 7) {
      EXPECT_NEAR(r.score, dot(old_vector, replacement.values), 1e-5);
    }
  }
}

TEST(VectorIndex, SearchesRunWhileVectorsAreAdded) {
  auto vectors = random_vectors(4000, 32, 11);
  auto index = in_memory();
  ASSERT_TRUE(index->add({vectors[0]}).ok());
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, searches{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      while (!done) {
        auto ranked = index->search(random_unit(rng, 32), 10);
        if (!ranked.ok() || ranked->empty()) ++failures;
        ++searches;
        (void)index->size();
      }
    });
  }
  for (size_t start = 1; start < vectors.size(); start += 100) {
    std::vector<StoredVector> batch(
        vectors.begin() + static_cast<std::ptrdiff_t>(start),
        vectors.begin() + static_cast<std::ptrdiff_t>(std::min(vectors.size(), start + 100)));
    ASSERT_TRUE(index->add(batch).ok());
  }
  done = true;
  for (auto& t : searchers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(searches, 0);
  EXPECT_EQ(index->size(), 4000u);
}

// --- files ---

TEST_F(VectorIndexFileTest, ASavedIndexLoadsWithTheSameResults) {
  auto vectors = random_vectors(2000, 32, 12);
  auto first = open_index(options());
  ASSERT_TRUE(first->add(vectors).ok());
  Status saved = first->save();
  ASSERT_TRUE(saved.ok()) << saved.to_string();
  ASSERT_TRUE(fs::exists(file()));
  ASSERT_TRUE(fs::exists(sidecar()));

  auto second = open_index(options());
  EXPECT_EQ(second->size(), 2000u);
  EXPECT_EQ(second->last_vseq(), 2000);
  std::mt19937 rng(13);
  for (int q = 0; q < 50; ++q) {
    auto query = random_unit(rng, 32);
    auto a = first->search(query, 10);
    auto b = second->search(query, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(labels_of(*a), labels_of(*b));
    for (size_t i = 0; i < a->size(); ++i) EXPECT_DOUBLE_EQ((*a)[i].score, (*b)[i].score);
  }
  // The loaded index keeps growing and saves again.
  ASSERT_TRUE(second->add(random_vectors(10, 32, 14, 5000)).ok());
  ASSERT_TRUE(second->save().ok());
  EXPECT_EQ(open_index(options())->size(), 2010u);
}

TEST_F(VectorIndexFileTest, AnEmptyIndexSavesItsPosition) {
  auto index = open_index(options());
  ASSERT_TRUE(index->save().ok());
  EXPECT_FALSE(fs::exists(file()));
  EXPECT_TRUE(fs::exists(sidecar()));
  auto again = open_index(options());
  EXPECT_EQ(again->size(), 0u);
  auto ranked = again->search(std::vector<float>(32, 0.1f), 3);
  ASSERT_TRUE(ranked.ok());
  EXPECT_TRUE(ranked->empty());
}

TEST_F(VectorIndexFileTest, AnIndexOfAnotherEmbedderIsIgnored) {
  save_some(100);
  LogCapture log;
  auto other = open_index(options(), "model:openai/text-embedding-3-small");
  EXPECT_EQ(other->size(), 0u);
  EXPECT_EQ(other->last_vseq(), 0);
  // Not deleted: the embedder that made it still loads it.
  EXPECT_EQ(open_index(options())->size(), 100u);
  // The other one's first save replaces it.
  ASSERT_TRUE(other->add(random_vectors(3, 8, 15)).ok());
  ASSERT_TRUE(other->save().ok());
  EXPECT_EQ(open_index(options())->size(), 0u);
  EXPECT_EQ(open_index(options(), "model:openai/text-embedding-3-small")->size(), 3u);
}

TEST_F(VectorIndexFileTest, ADamagedIndexFileIsReportedAndTheIndexStartsEmpty) {
  save_some(300);
  {
    std::fstream f(file(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.write("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8);
  }
  LogCapture log;
  auto index = open_index(options());
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->last_vseq(), 0);
  EXPECT_NE(log.text().find("vectors.hnsw"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("checksum"), std::string::npos) << log.text();

  // It rebuilds and the next save replaces the damaged file.
  auto vectors = random_vectors(20, 32, 16);
  ASSERT_TRUE(index->add(vectors).ok());
  ASSERT_TRUE(index->save().ok());
  EXPECT_EQ(open_index(options())->size(), 20u);
}

TEST_F(VectorIndexFileTest, TruncatedOrMissingFilesAreNotFatal) {
  save_some(300);
  fs::resize_file(file(), 100);
  {
    LogCapture log;
    EXPECT_EQ(open_index(options())->size(), 0u);
    EXPECT_NE(log.text().find("rebuilding from the store"), std::string::npos) << log.text();
  }
  fs::remove(file());
  EXPECT_EQ(open_index(options())->size(), 0u);
  testing::write_file(sidecar(), "{\"format\": \"cadre-vector-index-v1\", \"dims\": ");
  {
    LogCapture log;
    EXPECT_EQ(open_index(options())->size(), 0u);
    EXPECT_NE(log.text().find("invalid JSON"), std::string::npos) << log.text();
  }
  // An intact graph whose sidecar claims another vector size: hnswlib would
  // read it with the wrong stride; the header check refuses it.
  save_some(50);
  Json j = Json::parse(testing::read_file(sidecar()));
  j["dims"] = 16;
  testing::write_file(sidecar(), j.dump());
  {
    LogCapture log;
    EXPECT_EQ(open_index(options())->size(), 0u);
    EXPECT_NE(log.text().find("header does not match"), std::string::npos) << log.text();
  }
}

TEST_F(VectorIndexFileTest, ResetDropsEverythingAndDeletesTheFiles) {
  save_some(100);
  auto index = open_index(options());
  ASSERT_EQ(index->size(), 100u);
  ASSERT_TRUE(index->reset().ok());
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->last_vseq(), 0);
  EXPECT_FALSE(fs::exists(file()));
  EXPECT_FALSE(fs::exists(sidecar()));
  // A new size is fine after a reset.
  ASSERT_TRUE(index->add(random_vectors(4, 8, 17)).ok());
  EXPECT_EQ(index->size(), 4u);
}

TEST(VectorIndex, RefusesOptionsHnswlibCannotWorkWith) {
  VectorIndexOptions o;
  o.m = 1;
  EXPECT_TRUE(VectorIndex::open(o, kEmbedder).status().is(StatusCode::kInvalidArgument));
  o = {};
  o.ef_search = 0;
  EXPECT_TRUE(VectorIndex::open(o, kEmbedder).status().is(StatusCode::kInvalidArgument));
}

// --- catching up with the store ---

class VectorIndexCatchUpTest : public VectorIndexFileTest {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.path = (dir_.path() / "cadre.db").string();
    auto opened = open_sqlite_store(o);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  MemoryStore& memory() { return store_->memory(); }

  // Stores vectors for labels [first, first + n) under `embedder`.
  std::vector<StoredVector> put(int n, int64_t first = 1, const std::string& embedder = kEmbedder,
                                uint32_t seed = 20) {
    auto vectors = random_vectors(n, 32, seed, first);
    Status s = memory().put_vectors(embedder, vectors);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return vectors;
  }

  int64_t newest_vseq() {
    auto all = memory().vectors_after(0, 1'000'000);
    EXPECT_TRUE(all.ok());
    return all.ok() && !all->empty() ? all->back().vseq : 0;
  }

  std::unique_ptr<Store> store_;
};

TEST_F(VectorIndexCatchUpTest, AddsWhatWasStoredSinceInPages) {
  auto index = open_index(options());
  put(5000);  // more than one page of 4096
  Status s = index->catch_up(memory());
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(index->size(), 5000u);
  EXPECT_EQ(index->last_vseq(), newest_vseq());

  auto more = put(10, 6000, kEmbedder, 21);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  EXPECT_EQ(index->size(), 5010u);
  auto ranked = index->search(more[3].values, 1);
  ASSERT_TRUE(ranked.ok());
  EXPECT_EQ((*ranked)[0].label, 6003);

  // A label stored again is replaced, not added.
  std::mt19937 rng(22);
  StoredVector again{0, 6003, random_unit(rng, 32)};
  ASSERT_TRUE(memory().put_vectors(kEmbedder, {again}).ok());
  ASSERT_TRUE(index->catch_up(memory()).ok());
  EXPECT_EQ(index->size(), 5010u);
  ranked = index->search(again.values, 1);
  ASSERT_TRUE(ranked.ok());
  EXPECT_EQ((*ranked)[0].label, 6003);
  EXPECT_NEAR((*ranked)[0].score, 1.0, 1e-5);
}

TEST_F(VectorIndexCatchUpTest, SavesEverySoManyVectorsAndResumesFromTheFile) {
  VectorIndexOptions o = options();
  o.save_every = 100;
  auto index = open_index(o);
  put(150);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  ASSERT_TRUE(fs::exists(sidecar()));
  const int64_t saved_at = index->last_vseq();

  // Another process loads the file, then fetches only what came after it.
  put(20, 1000, kEmbedder, 23);
  auto later = open_index(o);
  EXPECT_EQ(later->size(), 150u);
  EXPECT_EQ(later->last_vseq(), saved_at);
  ASSERT_TRUE(later->catch_up(memory()).ok());
  EXPECT_EQ(later->size(), 170u);
  EXPECT_EQ(later->last_vseq(), newest_vseq());
}

TEST_F(VectorIndexCatchUpTest, StartsOverWhenTheStoreDroppedItsVectors) {
  auto index = open_index(options());
  put(100);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  ASSERT_TRUE(index->save().ok());
  ASSERT_EQ(index->size(), 100u);
  auto loaded = open_index(options());  // as another process would
  ASSERT_EQ(loaded->size(), 100u);

  // rebuild_derived drops every vector (a new generation); 30 come back.
  ASSERT_TRUE(memory().rebuild_derived().ok());
  auto back = put(30, 1, kEmbedder, 24);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  EXPECT_EQ(index->size(), 30u);
  auto ranked = index->search(back[0].values, 1);
  ASSERT_TRUE(ranked.ok());
  EXPECT_EQ((*ranked)[0].label, 1);
  EXPECT_NEAR((*ranked)[0].score, 1.0, 1e-5);

  // The generation came with the file: the other process notices too.
  ASSERT_TRUE(loaded->catch_up(memory()).ok());
  EXPECT_EQ(loaded->size(), 30u);
  ranked = loaded->search(back[0].values, 1);
  ASSERT_TRUE(ranked.ok());
  EXPECT_EQ((*ranked)[0].label, 1);
}

TEST_F(VectorIndexCatchUpTest, VectorsOfAnotherEmbedderAreNotIndexed) {
  auto index = open_index(options());
  put(50);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  ASSERT_EQ(index->size(), 50u);
  // The store now holds another embedder's vectors (the old ones dropped).
  put(40, 1, "model:openai/text-embedding-3-small", 25);
  ASSERT_TRUE(index->catch_up(memory()).ok());
  EXPECT_EQ(index->size(), 0u);
}

}  // namespace
}  // namespace cadre

// VectorIndex: approximate nearest neighbours over the stored vectors
// (hnswlib, inner product over unit vectors, so the score is the cosine
// similarity). The store keeps the vectors; this index is derived from them
// and saved to a file (with the last vseq it holds) so that another process
// loads it instead of rebuilding it, then catches up with what was stored
// since.
//
// Thread-safety: every method may be called from any thread (searches run
// concurrently; adding and saving take the index exclusively).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/memory_store.h"

namespace cadre {

struct VectorIndexOptions {
  std::filesystem::path file;   // "" : kept in memory only
  int m = 16;                   // hnswlib graph degree
  int ef_construction = 100;
  int ef_search = 128;          // raised to k when k is larger (64 found 41% of the exact top 50 for short queries)
  int64_t save_every = 2000;    // save after this many vectors were added since the last save
};

class VectorIndex {
 public:
  // Loads `options.file` when it exists and was made by `embedder` with
  // vectors of the same size; otherwise starts empty (the file is replaced
  // on the next save). A file that cannot be read is reported, not fatal:
  // the index rebuilds from the store.
  static Result<std::unique_ptr<VectorIndex>> open(VectorIndexOptions options, std::string embedder);
  ~VectorIndex();

  // Adds every vector stored after the last one held (store.vectors_after),
  // growing the index as needed; saves when save_every were added. When the
  // store's vector generation moved on, starts over from its vectors.
  Status catch_up(MemoryStore& store);

  // Adds vectors (a label added again replaces its vector).
  Status add(const std::vector<StoredVector>& vectors);

  // The k nearest labels to `query` (a unit vector), best first, score =
  // cosine similarity. Empty when the index is empty.
  Result<std::vector<RankedLabel>> search(const std::vector<float>& query, int k) const;

  Status save();
  // Drops everything (after the store dropped its vectors) and deletes the file.
  Status reset();

  size_t size() const;
  int64_t last_vseq() const;

 private:
  struct Impl;
  explicit VectorIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadre

// VectorIndex over hnswlib 0.6 (see vector_index.h).
//
// Files: the graph as hnswlib writes it (`options.file`) and a sidecar
// (`<file>.json`) that says what the graph holds: the embedder, the vector
// size, the last vseq, the store's vector generation, the number of vectors,
// and the graph file's size and checksum. Both are written to a temporary
// file, flushed and renamed over the old one, graph first; the sidecar is
// what makes a graph count, so a crash between the two renames leaves a
// checksum mismatch, reported on the next open, and a rebuild from the store.
// hnswlib trusts its input, so a graph is read only after its size and
// checksum match the sidecar and its header matches the vector size.
//
// hnswlib reports errors by throwing; every call into it is wrapped here and
// the exception becomes a Status. Replacing a label relies on hnswlib 0.6's
// addPoint, which updates the vector of a label it holds in place and
// repairs the links around it. hnswlib.h defines plain (non-inline)
// functions (cpuid, AVXCapable, ...): no other file of a program linking
// this one may include it.
//
// Locking: `mutex` (shared) guards everything; searches, size() and save()
// take it shared, add() and reset() exclusively. glibc's shared mutex lets
// new readers in while a writer waits, so steady searches would starve
// add(); every lock passes through `turnstile` first, which a writer holds
// while it waits, so readers queue behind it. save_mutex keeps two saves
// from writing the same temporary files; catch_up_mutex keeps two catch-ups
// from fetching the same vectors twice.
#include "memory/vector_index.h"

#include <fcntl.h>
#include <hnswlib/hnswlib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/json.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;
using Graph = hnswlib::HierarchicalNSW<float>;

constexpr size_t kInitialCapacity = 1024;
constexpr int kCatchUpPage = 4096;
constexpr size_t kParallelAddMin = 256;  // smaller batches are added on the calling thread
constexpr std::string_view kSidecarFormat = "cadre-vector-index-v1";

// The fixed header hnswlib 0.6's saveIndex writes before the elements.
#pragma pack(push, 1)
struct GraphHeader {
  size_t offset_level0;
  size_t max_elements;
  size_t element_count;
  size_t size_data_per_element;
  size_t label_offset;
  size_t offset_data;
  int max_level;
  unsigned int entry_point;
  size_t max_m;
  size_t max_m0;
  size_t m;
  double mult;
  size_t ef_construction;
};
#pragma pack(pop)
static_assert(sizeof(GraphHeader) == 96);

Status errno_status(int error, const std::string& what) {
  std::string message = what + ": " + std::strerror(error);
  if (error == ENOSPC || error == EDQUOT) return Status::ResourceExhausted(message);
  return Status::IOError(message);
}

fs::path sidecar_of(const fs::path& file) {
  fs::path sidecar = file;
  sidecar += ".json";
  return sidecar;
}

fs::path temporary_of(const fs::path& file) {
  fs::path temporary = file;
  temporary += ".tmp-" + std::to_string(::getpid());
  return temporary;
}

// A fast 64-bit checksum of a file (FNV-style over 8-byte words), to tell a
// damaged or half-written graph from the one the sidecar describes.
class Checksum {
 public:
  void update(const char* data, size_t size) {
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t word;
      std::memcpy(&word, data + i, 8);
      add(word);
    }
    for (; i < size; ++i) add(static_cast<unsigned char>(data[i]));
    bytes_ += size;
  }
  uint64_t value() const { return (h_ ^ (h_ >> 31)) * 0x9e3779b97f4a7c15ull ^ bytes_; }

 private:
  void add(uint64_t word) {
    h_ ^= word;
    h_ *= 0x100000001b3ull;
    h_ ^= h_ >> 29;
  }
  uint64_t h_ = 14695981039346656037ull;
  uint64_t bytes_ = 0;
};

struct FileDigest {
  uint64_t bytes = 0;
  uint64_t checksum = 0;
};

Result<FileDigest> digest_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_status(errno, "cannot open " + path.string());
  std::vector<char> buffer(1 << 20);
  Checksum checksum;
  FileDigest digest;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<size_t>(in.gcount());
    checksum.update(buffer.data(), got);
    digest.bytes += got;
  }
  if (in.bad()) return Status::IOError("cannot read " + path.string());
  digest.checksum = checksum.value();
  return digest;
}

std::string hex64(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, value >>= 4) out[static_cast<size_t>(i)] = kDigits[value & 0xF];
  return out;
}

Status fsync_path(const fs::path& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return errno_status(errno, "cannot open " + path.string());
  Status s;
  if (::fsync(fd) != 0) s = errno_status(errno, "cannot flush " + path.string());
  ::close(fd);
  return s;
}

Status write_all(int fd, std::string_view data, const fs::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "cannot write " + path.string());
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Writes `content` beside `path`, flushes it and renames it over `path`.
Status replace_file(const fs::path& path, std::string_view content) {
  fs::path temporary = temporary_of(path);
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status(errno, "cannot create " + temporary.string());
  Status s = write_all(fd, content, temporary);
  if (s.ok() && ::fsync(fd) != 0) s = errno_status(errno, "cannot flush " + temporary.string());
  ::close(fd);
  if (s.ok() && ::rename(temporary.c_str(), path.c_str()) != 0)
    s = errno_status(errno, "cannot replace " + path.string());
  if (!s.ok()) ::unlink(temporary.c_str());
  return s;
}

Status remove_if_present(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return errno_status(errno, "cannot delete " + path.string());
  return Status::Ok();
}

// What a sidecar says about its graph file.
struct Sidecar {
  std::string embedder;
  int dims = 0;
  int64_t count = 0;
  int64_t last_vseq = 0;
  int64_t generation = -1;
  uint64_t index_bytes = 0;
  std::string index_checksum;
};

Result<Sidecar> read_sidecar(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return errno_status(errno, "cannot open " + path.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("cannot read " + path.string());
  Result<Json> parsed = parse_json(text, path.string());
  if (!parsed.ok()) return Status::Corruption(parsed.status().message());
  const Json& j = *parsed;
  Sidecar sidecar;
  try {
    if (!j.is_object() || j.value("format", "") != kSidecarFormat)
      return Status::Corruption(path.string() + ": not a vector index sidecar (format)");
    sidecar.embedder = j.at("embedder").get<std::string>();
    sidecar.dims = j.at("dims").get<int>();
    sidecar.count = j.at("count").get<int64_t>();
    sidecar.last_vseq = j.at("last_vseq").get<int64_t>();
    sidecar.generation = j.at("generation").get<int64_t>();
    sidecar.index_bytes = j.at("index_bytes").get<uint64_t>();
    sidecar.index_checksum = j.at("index_checksum").get<std::string>();
  } catch (const std::exception& e) {
    return Status::Corruption(path.string() + ": " + e.what());
  }
  if (sidecar.dims < 0 || sidecar.count < 0 || (sidecar.count > 0 && sidecar.dims == 0))
    return Status::Corruption(path.string() + ": dims and count do not fit");
  return sidecar;
}

// The checks hnswlib's loadIndex does not make: the header describes a graph
// of `count` vectors of `dims` floats.
Status check_header(const fs::path& path, const Sidecar& sidecar) {
  std::ifstream in(path, std::ios::binary);
  GraphHeader h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h))
    return Status::Corruption(path.string() + ": too short");
  const size_t links_level0 =
      h.max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  const size_t data_size = static_cast<size_t>(sidecar.dims) * sizeof(float);
  const bool fits =
      h.offset_level0 == 0 && h.element_count == static_cast<size_t>(sidecar.count) && h.m >= 2 &&
      h.m <= 10000 && h.max_m == h.m && h.max_m0 == 2 * h.m && h.offset_data == links_level0 &&
      h.label_offset == links_level0 + data_size &&
      h.size_data_per_element == links_level0 + data_size + sizeof(hnswlib::labeltype) &&
      h.max_level >= 0 && h.max_level < 64 && h.entry_point < h.element_count &&
      std::isfinite(h.mult) && h.mult > 0;
  if (!fits)
    return Status::Corruption(path.string() + ": the graph header does not match its sidecar");
  return Status::Ok();
}

// The number of bytes saveIndex writes for `graph`.
uint64_t saved_size(const Graph& graph) {
  uint64_t bytes = sizeof(GraphHeader) + graph.cur_element_count * graph.size_data_per_element_;
  for (size_t i = 0; i < graph.cur_element_count; ++i) {
    bytes += sizeof(unsigned int);
    if (graph.element_levels_[i] > 0)
      bytes += graph.size_links_per_element_ * static_cast<size_t>(graph.element_levels_[i]);
  }
  return bytes;
}

// A shared lock that waits behind a writer already waiting.
class ReadLock {
 public:
  ReadLock(std::mutex& turnstile, std::shared_mutex& mutex) {
    std::lock_guard gate(turnstile);
    lock_ = std::shared_lock(mutex);
  }

 private:
  std::shared_lock<std::shared_mutex> lock_;
};

// An exclusive lock that keeps new readers out while it waits for the
// current ones to leave.
class WriteLock {
 public:
  WriteLock(std::mutex& turnstile, std::shared_mutex& mutex) : gate_(turnstile), lock_(mutex) {}

 private:
  std::lock_guard<std::mutex> gate_;
  std::unique_lock<std::shared_mutex> lock_;
};

}  // namespace

struct VectorIndex::Impl {
  VectorIndexOptions options;
  std::string embedder;

  mutable std::mutex turnstile;     // taken before `mutex`; see the top of the file
  mutable std::shared_mutex mutex;  // guards every field below but the atomics
  int dims = 0;                     // 0: not known until the first vectors arrive
  std::unique_ptr<hnswlib::InnerProductSpace> space;  // before graph: the graph points into it
  std::unique_ptr<Graph> graph;
  int64_t last_vseq = 0;
  int64_t generation = -1;  // the store's vector generation; -1: not known

  std::atomic<uint64_t> version{0};  // grows with every change
  std::atomic<int64_t> added_since_save{0};

  std::mutex save_mutex;
  uint64_t saved_version = 0;  // under save_mutex
  bool saved = false;          // the file holds `saved_version`

  std::mutex catch_up_mutex;

  size_t count() const { return graph ? graph->cur_element_count : 0; }

  // Under the exclusive lock.
  Status create(int new_dims, size_t capacity) {
    try {
      space = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(new_dims));
      graph = std::make_unique<Graph>(space.get(), capacity, static_cast<size_t>(options.m),
                                      static_cast<size_t>(options.ef_construction));
      graph->setEf(static_cast<size_t>(options.ef_search));
    } catch (const std::exception& e) {
      graph.reset();
      space.reset();
      return Status::ResourceExhausted("vector index: cannot make room for " +
                                       std::to_string(capacity) + " vectors: " + e.what());
    }
    dims = new_dims;
    return Status::Ok();
  }

  // Under the exclusive lock: forgets every vector.
  void clear() {
    graph.reset();
    space.reset();
    dims = 0;
    last_vseq = 0;
    generation = -1;
    added_since_save = 0;
    ++version;
  }

  // Loads the saved graph when the sidecar says it is ours and intact;
  // anything else leaves the index empty (reported when it is damaged).
  void load() {
    const fs::path& file = options.file;
    const fs::path sidecar_path = sidecar_of(file);
    std::error_code error;
    if (!fs::exists(sidecar_path, error)) {
      if (fs::exists(file, error))
        spdlog::info("vector index {}: no sidecar {}; rebuilding from the store", file.string(),
                     sidecar_path.string());
      return;
    }
    Result<Sidecar> sidecar = read_sidecar(sidecar_path);
    if (!sidecar.ok()) {
      spdlog::warn("vector index {}: ignoring it, rebuilding from the store: {}", file.string(),
                   sidecar.status().to_string());
      return;
    }
    if (sidecar->embedder != embedder) {
      spdlog::info("vector index {}: made by {}, not {}; rebuilding from the store", file.string(),
                   sidecar->embedder, embedder);
      return;
    }
    if (sidecar->count > 0) {
      Status s = load_graph(*sidecar);
      if (!s.ok()) {
        spdlog::warn("vector index {}: cannot load it, rebuilding from the store: {}",
                     file.string(), s.to_string());
        graph.reset();
        space.reset();
        dims = 0;
        return;
      }
      dims = sidecar->dims;
    }
    last_vseq = sidecar->last_vseq;
    generation = sidecar->generation;
    saved = true;
    saved_version = version;
  }

  Status load_graph(const Sidecar& sidecar) {
    const fs::path& file = options.file;
    CADRE_ASSIGN_OR_RETURN(FileDigest digest, digest_file(file));
    if (digest.bytes != sidecar.index_bytes || hex64(digest.checksum) != sidecar.index_checksum) {
      return Status::Corruption(file.string() + ": " + std::to_string(digest.bytes) +
                                " bytes, checksum " + hex64(digest.checksum) +
                                "; its sidecar expects " + std::to_string(sidecar.index_bytes) +
                                " bytes, checksum " + sidecar.index_checksum);
    }
    CADRE_RETURN_IF_ERROR(check_header(file, sidecar));
    const size_t capacity = std::max(kInitialCapacity, static_cast<size_t>(sidecar.count));
    try {
      space = std::make_unique<hnswlib::InnerProductSpace>(static_cast<size_t>(sidecar.dims));
      graph = std::make_unique<Graph>(space.get(), file.string(), false, capacity);
      graph->setEf(static_cast<size_t>(options.ef_search));
    } catch (const std::exception& e) {
      return Status::Corruption(file.string() + ": " + e.what());
    }
    if (graph->label_lookup_.size() != graph->cur_element_count)
      return Status::Corruption(file.string() + ": holds a label twice");
    return Status::Ok();
  }

  // Under the exclusive lock.
  Status add(const std::vector<StoredVector>& vectors) {
    const int new_dims = static_cast<int>(vectors.front().values.size());
    if (!graph) {
      CADRE_RETURN_IF_ERROR(create(new_dims, std::max(kInitialCapacity, vectors.size())));
    } else if (new_dims != dims) {
      return Status::InvalidArgument("vector index: vectors of " + std::to_string(new_dims) +
                                     " values, the index holds vectors of " + std::to_string(dims));
    }
    try {
      const size_t needed = graph->cur_element_count + vectors.size();
      if (needed > graph->max_elements_)
        graph->resizeIndex(std::max(needed, 2 * graph->max_elements_));
    } catch (const std::exception& e) {
      return Status::Internal(std::string("vector index: cannot grow: ") + e.what());
    }
    // hnswlib inserts distinct labels concurrently (per-node locks): a large
    // batch is split over the cores, which is most of the cost of indexing.
    const size_t threads =
        vectors.size() < kParallelAddMin ? 1 : std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    std::atomic<size_t> next{0}, added{0};
    std::mutex error_mutex;
    std::string error;
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < vectors.size();) {
        try {
          graph->addPoint(vectors[i].values.data(), static_cast<hnswlib::labeltype>(vectors[i].label));
          added.fetch_add(1);
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mutex);
          if (error.empty()) error = e.what();
          next.store(vectors.size());  // stop every thread
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    ++version;
    added_since_save += static_cast<int64_t>(added.load());
    if (!error.empty()) {
      return Status::Internal("vector index: adding vectors failed after " + std::to_string(added.load()) +
                              " of " + std::to_string(vectors.size()) + ": " + error);
    }
    for (const StoredVector& v : vectors) last_vseq = std::max(last_vseq, v.vseq);
    return Status::Ok();
  }

  // Under save_mutex and the shared lock.
  Status save() {
    const fs::path& file = options.file;
    const uint64_t at_version = version;
    if (saved && saved_version == at_version) return Status::Ok();
    std::error_code error;
    if (file.has_parent_path()) {
      fs::create_directories(file.parent_path(), error);
      if (error)
        return Status::IOError("cannot create " + file.parent_path().string() + ": " +
                               error.message());
    }
    Json sidecar = {
        {"format", kSidecarFormat}, {"embedder", embedder},   {"dims", dims},
        {"count", count()},         {"last_vseq", last_vseq}, {"generation", generation},
        {"index_bytes", 0},         {"index_checksum", ""}};
    if (count() > 0) {
      const fs::path temporary = temporary_of(file);
      try {
        graph->saveIndex(temporary.string());
      } catch (const std::exception& e) {
        ::unlink(temporary.c_str());
        return Status::IOError("cannot write " + temporary.string() + ": " + e.what());
      }
      Result<FileDigest> digest = digest_file(temporary);
      Status s = digest.status();
      if (s.ok() && digest->bytes != saved_size(*graph)) {
        s = Status::IOError("cannot write " + temporary.string() + ": " +
                            std::to_string(digest->bytes) + " of " +
                            std::to_string(saved_size(*graph)) + " bytes written (disk full?)");
      }
      if (s.ok()) s = fsync_path(temporary, false);
      if (s.ok() && ::rename(temporary.c_str(), file.c_str()) != 0)
        s = errno_status(errno, "cannot replace " + file.string());
      if (!s.ok()) {
        ::unlink(temporary.c_str());
        return s;
      }
      sidecar["index_bytes"] = digest->bytes;
      sidecar["index_checksum"] = hex64(digest->checksum);
    } else {
      CADRE_RETURN_IF_ERROR(remove_if_present(file));
    }
    CADRE_RETURN_IF_ERROR(replace_file(sidecar_of(file), dump_json(sidecar) + "\n"));
    CADRE_RETURN_IF_ERROR(
        fsync_path(file.has_parent_path() ? file.parent_path() : fs::path("."), true));
    saved = true;
    saved_version = at_version;
    added_since_save = 0;
    return Status::Ok();
  }
};

VectorIndex::VectorIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VectorIndex::~VectorIndex() = default;

Result<std::unique_ptr<VectorIndex>> VectorIndex::open(VectorIndexOptions options,
                                                       std::string embedder) {
  if (options.m < 2 || options.m > 10000)
    return Status::InvalidArgument("vector index: m must be between 2 and 10000, got " +
                                   std::to_string(options.m));
  if (options.ef_construction < 1)
    return Status::InvalidArgument("vector index: ef_construction must be at least 1");
  if (options.ef_search < 1)
    return Status::InvalidArgument("vector index: ef_search must be at least 1");
  if (options.save_every < 1)
    return Status::InvalidArgument("vector index: save_every must be at least 1");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->embedder = std::move(embedder);
  if (!impl->options.file.empty()) impl->load();
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(impl)));
}

Status VectorIndex::catch_up(MemoryStore& store) {
  Impl& d = *impl_;
  std::lock_guard catching_up(d.catch_up_mutex);
  // The generation may move on while we page; then start over (bounded, as
  // each round only repeats when someone dropped the vectors meanwhile).
  for (int round = 0; round < 3; ++round) {
    CADRE_ASSIGN_OR_RETURN(VectorState state, store.vector_state());
    const bool ours = state.embedder.empty() || state.embedder == d.embedder;
    bool stale;
    {
      ReadLock lock(d.turnstile, d.mutex);
      const bool holds_any = d.count() > 0 || d.last_vseq > 0;
      stale = !ours ? holds_any
                    : (d.generation != state.generation && (d.generation >= 0 || holds_any));
    }
    if (stale) CADRE_RETURN_IF_ERROR(reset());
    {
      WriteLock lock(d.turnstile, d.mutex);
      if (d.generation != state.generation) {
        d.generation = state.generation;
        ++d.version;
      }
    }
    // Vectors another embedder made mean nothing to our queries.
    if (!ours) return Status::Ok();
    while (true) {
      int64_t after = last_vseq();
      CADRE_ASSIGN_OR_RETURN(std::vector<StoredVector> page,
                             store.vectors_after(after, kCatchUpPage));
      if (page.empty()) break;
      if (page.back().vseq <= after) {
        return Status::Internal("vector index: the store returned vectors up to vseq " +
                                std::to_string(page.back().vseq) + " when asked for those after " +
                                std::to_string(after));
      }
      CADRE_RETURN_IF_ERROR(add(page));
      if (static_cast<int>(page.size()) < kCatchUpPage) break;
    }
    // Once at the end: saving after every page rewrote the whole file each
    // time (220 saves of up to 1.2 GB while indexing 1M vectors).
    if (!d.options.file.empty() && d.added_since_save >= d.options.save_every)
      CADRE_RETURN_IF_ERROR(save());
    CADRE_ASSIGN_OR_RETURN(VectorState after, store.vector_state());
    if (after.generation == state.generation && after.embedder == state.embedder)
      return Status::Ok();
  }
  return Status::Unavailable(
      "vector index: the stored vectors kept being dropped while catching up");
}

Status VectorIndex::add(const std::vector<StoredVector>& vectors) {
  if (vectors.empty()) return Status::Ok();
  const size_t dims = vectors.front().values.size();
  for (const StoredVector& v : vectors) {
    if (v.values.empty() || v.values.size() != dims) {
      return Status::InvalidArgument(
          "vector index: the vector of label " + std::to_string(v.label) + " has " +
          std::to_string(v.values.size()) + " values, the first has " + std::to_string(dims));
    }
    for (float x : v.values) {
      if (!std::isfinite(x)) {
        return Status::InvalidArgument("vector index: the vector of label " +
                                       std::to_string(v.label) +
                                       " holds a value that is not a finite number");
      }
    }
  }
  WriteLock lock(impl_->turnstile, impl_->mutex);
  return impl_->add(vectors);
}

Result<std::vector<RankedLabel>> VectorIndex::search(const std::vector<float>& query, int k) const {
  std::vector<RankedLabel> ranked;
  if (k <= 0) return ranked;
  ReadLock lock(impl_->turnstile, impl_->mutex);
  const Impl& d = *impl_;
  if (d.count() == 0) return ranked;
  if (query.size() != static_cast<size_t>(d.dims)) {
    return Status::InvalidArgument("vector index: a query of " + std::to_string(query.size()) +
                                   " values, the index holds vectors of " + std::to_string(d.dims));
  }
  const size_t wanted = std::min(static_cast<size_t>(k), d.count());
  std::priority_queue<std::pair<float, hnswlib::labeltype>> found;
  try {
    // hnswlib searches with max(ef, k) candidates.
    found = d.graph->searchKnn(query.data(), wanted);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("vector index: search failed: ") + e.what());
  }
  ranked.resize(found.size());
  // The queue holds the farthest on top.
  for (size_t i = found.size(); i-- > 0; found.pop()) {
    ranked[i].label = static_cast<int64_t>(found.top().second);
    ranked[i].score = 1.0 - static_cast<double>(found.top().first);
  }
  return ranked;
}

Status VectorIndex::save() {
  if (impl_->options.file.empty()) return Status::Ok();
  std::lock_guard saving(impl_->save_mutex);
  ReadLock lock(impl_->turnstile, impl_->mutex);
  Status s = impl_->save();
  if (!s.ok()) return s.with_context("saving the vector index");
  return s;
}

Status VectorIndex::reset() {
  Impl& d = *impl_;
  std::lock_guard saving(d.save_mutex);
  WriteLock lock(d.turnstile, d.mutex);
  d.clear();
  d.saved = false;
  if (d.options.file.empty()) return Status::Ok();
  // The sidecar goes first: a graph without one is never loaded.
  CADRE_RETURN_IF_ERROR(remove_if_present(sidecar_of(d.options.file)));
  return remove_if_present(d.options.file);
}

size_t VectorIndex::size() const {
  ReadLock lock(impl_->turnstile, impl_->mutex);
  return impl_->count();
}

int64_t VectorIndex::last_vseq() const {
  ReadLock lock(impl_->turnstile, impl_->mutex);
  return impl_->last_vseq;
}

}  // namespace cadre

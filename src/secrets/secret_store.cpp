// SecretStore (see secret_store.h): the file format, sealing and opening
// entries, and changing the file atomically under a lock.
#include "secrets/secret_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "core/id.h"
#include "core/json.h"
#include "core/references.h"
#include "secrets/secret_key.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;

constexpr int kFormatVersion = 1;
constexpr char kCipher[] = "xchacha20poly1305-ietf";
constexpr char kLockFile[] = "secrets.lock";
// Additional data: the key check's fixed label, and each entry's label + name.
constexpr std::string_view kKeyCheckLabel = "cadre secrets key check v1";
constexpr std::string_view kEntryLabel = "cadre secret v1:";

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::string to_base64(const unsigned char* data, size_t size) {
  std::string out(sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::vector<unsigned char>> from_base64(std::string_view text) {
  std::vector<unsigned char> out(text.size() * 3 / 4 + 3);
  size_t length = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

std::string entry_label(std::string_view name) {
  return std::string(kEntryLabel) + std::string(name);
}

// {nonce, ciphertext} of `plaintext` sealed under `key` with `label` as
// additional data.
Json seal(const SecretKey& key, std::string_view plaintext, std::string_view label) {
  unsigned char nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  std::vector<unsigned char> sealed(plaintext.size() + kTagBytes);
  unsigned long long sealed_length = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &sealed_length, bytes_of(plaintext),
                                             plaintext.size(), bytes_of(label), label.size(),
                                             nullptr, nonce, key.data());
  return Json{{"nonce", to_base64(nonce, sizeof nonce)},
              {"ciphertext", to_base64(sealed.data(), sealed_length)}};
}

std::string string_member(const Json& object, const char* member) {
  auto it = object.find(member);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// What opening a sealed box found.
enum class Opened { kOk, kRefused, kMalformed };

// Opens `box` into `*plaintext`: kRefused when the key or the label does
// not match or the bytes were altered; kMalformed when it is not a box.
Opened open_box(const SecretKey& key, const Json& box, std::string_view label,
                std::string* plaintext) {
  if (!box.is_object()) return Opened::kMalformed;
  auto nonce = from_base64(string_member(box, "nonce"));
  auto sealed = from_base64(string_member(box, "ciphertext"));
  if (!nonce || !sealed || nonce->size() != kNonceBytes || sealed->size() < kTagBytes)
    return Opened::kMalformed;
  std::string out(sealed->size() - kTagBytes, '\0');
  unsigned long long length = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
      reinterpret_cast<unsigned char*>(out.data()), &length, nullptr, sealed->data(),
      sealed->size(), bytes_of(label), label.size(), nonce->data(), key.data());
  if (rc != 0) {
    sodium_memzero(out.data(), out.size());
    return Opened::kRefused;
  }
  out.resize(length);
  *plaintext = std::move(out);
  return Opened::kOk;
}

// --- the file ---

Json empty_document() {
  return Json{{"version", kFormatVersion}, {"cipher", kCipher}, {"secrets", Json::object()}};
}

Status io_error(const fs::path& path, std::string_view doing) {
  return Status::IOError(path.string() + ": cannot " + std::string(doing) + ": " +
                         std::strerror(errno));
}

Result<std::string> read_whole_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(path, "open it");
  std::string text;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = io_error(path, "read it");
      ::close(fd);
      return failed;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// The document in `path`, checked for shape; an empty one if there is no file.
Result<Json> read_document(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return empty_document();
  CADRE_ASSIGN_OR_RETURN(std::string text, read_whole_file(path));
  CADRE_ASSIGN_OR_RETURN(Json document, parse_json(text, path.string()));
  if (!document.is_object() || !document.contains("version") ||
      !document["version"].is_number_integer()) {
    return Status::Corruption(path.string() + ": not a Cadre secrets file (no version)");
  }
  if (document["version"].get<int64_t>() != kFormatVersion ||
      string_member(document, "cipher") != kCipher) {
    return Status::FailedPrecondition(path.string() +
                                      ": written by another version of Cadre (format " +
                                      dump_json(document["version"]) + "); upgrade Cadre");
  }
  if (!document.contains("secrets") || !document["secrets"].is_object())
    return Status::Corruption(path.string() + ": secrets must be an object");
  return document;
}

std::string dump_document(const Json& document) {
  return document.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Replaces `path` with `text`: a private temporary file, synced, renamed
// over it, and the folder synced, so a crash leaves one whole version.
Status write_atomically(const fs::path& path, std::string_view text) {
  fs::path temp = path.parent_path() / (path.filename().string() + ".new-" + new_id("tmp"));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(temp, "create it");
  bool written = write_all(fd, text) && ::fsync(fd) == 0;
  Status failed = written ? Status::Ok() : io_error(temp, "write it");
  ::close(fd);
  if (written && ::rename(temp.c_str(), path.c_str()) != 0) {
    failed = io_error(path, "replace it");
    written = false;
  }
  if (!written) {
    ::unlink(temp.c_str());
    return failed;
  }
  int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return io_error(path.parent_path(), "open the folder");
  int rc = ::fsync(dir);
  ::close(dir);
  return rc == 0 ? Status::Ok() : io_error(path.parent_path(), "sync the folder");
}

// An exclusive lock on the store's lock file for as long as it lives.
class StoreLock {
 public:
  static Result<StoreLock> acquire(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError(dir.string() + ": cannot create the folder: " + ec.message());
    fs::path path = dir / kLockFile;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return io_error(path, "open it");
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      Status failed = io_error(path, "lock it");
      ::close(fd);
      return failed;
    }
    return StoreLock(fd);
  }
  StoreLock(StoreLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  StoreLock(const StoreLock&) = delete;
  StoreLock& operator=(const StoreLock&) = delete;
  StoreLock& operator=(StoreLock&&) = delete;
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the lock
  }

 private:
  explicit StoreLock(int fd) : fd_(fd) {}
  int fd_;
};

Status check_name(std::string_view name) {
  if (is_secret_name(name)) return Status::Ok();
  // Not repeated: a value pasted in the wrong place must not be echoed.
  return Status::InvalidArgument(
      "bad secret name: use letters, digits, '_', '.' and '-' (at most 64), starting with a "
      "letter or '_'");
}

Status not_set(std::string_view name) {
  return Status::NotFound("secret " + std::string(name) + " is not set (cadre secret set " +
                          std::string(name) + ")");
}

// Checks that `key` is the key the document's entries were sealed under.
Status check_key(const SecretKey& key, const Json& document, const fs::path& path) {
  auto it = document.find("key_check");
  if (it == document.end()) return Status::Corruption(path.string() + ": key_check is missing");
  std::string nothing;
  switch (open_box(key, *it, kKeyCheckLabel, &nothing)) {
    case Opened::kOk:
      return Status::Ok();
    case Opened::kMalformed:
      return Status::Corruption(path.string() + ": key_check is damaged");
    case Opened::kRefused:
      break;
  }
  return Status::FailedPrecondition("wrong secret key: the key from " + key.source() +
                                    " is not the one " + path.string() +
                                    " was sealed with (give the right key through " +
                                    kSecretKeyEnv + " or " + kSecretKeyFile + ")");
}

}  // namespace

Status SecretStore::set(std::string_view name, std::string_view value, TimeMs now) {
  CADRE_RETURN_IF_ERROR(check_name(name));
  if (value.empty())
    return Status::InvalidArgument("secret " + std::string(name) + ": the value is empty");
  if (value.size() > kMaxSecretValueBytes) {
    return Status::ResourceExhausted("secret " + std::string(name) + ": the value has " +
                                     std::to_string(value.size()) + " bytes; at most " +
                                     std::to_string(kMaxSecretValueBytes) + " are kept");
  }
  CADRE_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(dir_));
  const fs::path path = dir_ / kSecretsFile;
  CADRE_ASSIGN_OR_RETURN(Json document, read_document(path));
  const bool sealed_before = document.contains("key_check");
  // A new key only for a file that has never sealed anything: otherwise
  // the old entries would no longer open.
  CADRE_ASSIGN_OR_RETURN(SecretKey key, load_secret_key(dir_, sealed_before ? KeyMissing::kFail
                                                                            : KeyMissing::kCreate));
  if (sealed_before) {
    CADRE_RETURN_IF_ERROR(check_key(key, document, path));
  } else {
    document["key_check"] = seal(key, "", kKeyCheckLabel);
  }
  Json entry = seal(key, value, entry_label(name));
  entry["updated_at"] = now;
  document["secrets"][std::string(name)] = std::move(entry);
  return write_atomically(path, dump_document(document));
}

Result<std::string> SecretStore::get(std::string_view name) const {
  CADRE_RETURN_IF_ERROR(check_name(name));
  const fs::path path = dir_ / kSecretsFile;
  CADRE_ASSIGN_OR_RETURN(Json document, read_document(path));
  const Json& secrets = document["secrets"];
  auto entry = secrets.find(std::string(name));
  if (entry == secrets.end()) return not_set(name);
  CADRE_ASSIGN_OR_RETURN(SecretKey key, load_secret_key(dir_, KeyMissing::kFail));
  CADRE_RETURN_IF_ERROR(check_key(key, document, path));
  std::string value;
  switch (open_box(key, *entry, entry_label(name), &value)) {
    case Opened::kOk:
      return value;
    case Opened::kMalformed:
      return Status::Corruption(path.string() + ": secret " + std::string(name) +
                                " is damaged (not a sealed value)");
    case Opened::kRefused:
      break;
  }
  return Status::Corruption(path.string() + ": secret " + std::string(name) +
                            " does not open under the right key: the entry was altered or moved "
                            "from another name; set it again");
}

Status SecretStore::remove(std::string_view name) {
  CADRE_RETURN_IF_ERROR(check_name(name));
  const fs::path path = dir_ / kSecretsFile;
  std::error_code ec;
  if (!fs::exists(path, ec)) return not_set(name);
  CADRE_ASSIGN_OR_RETURN(StoreLock lock, StoreLock::acquire(dir_));
  CADRE_ASSIGN_OR_RETURN(Json document, read_document(path));
  if (document["secrets"].erase(std::string(name)) == 0) return not_set(name);
  return write_atomically(path, dump_document(document));
}

Result<std::vector<SecretInfo>> SecretStore::list() const {
  const fs::path path = dir_ / kSecretsFile;
  CADRE_ASSIGN_OR_RETURN(Json document, read_document(path));
  std::vector<SecretInfo> out;
  for (const auto& [name, entry] : document["secrets"].items()) {
    SecretInfo info;
    info.name = name;
    auto at = entry.find("updated_at");
    if (at != entry.end() && at->is_number_integer()) info.updated_at = at->get<TimeMs>();
    out.push_back(std::move(info));
  }
  return out;  // nlohmann keeps object members sorted by name
}

}  // namespace cadre

#include "secrets/secret_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/id.h"

namespace cadre {
namespace {

namespace fs = std::filesystem;

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

std::string_view trimmed(std::string_view text) {
  const char* kSpace = " \t\r\n";
  size_t start = text.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(kSpace);
  return text.substr(start, end - start + 1);
}

bool all_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

// Decodes into `out` (kSecretKeyBytes); false when the text is not exactly
// that many bytes in hex or base64.
bool decode_key_bytes(std::string_view text, unsigned char* out) {
  unsigned char buffer[2 * kSecretKeyBytes];
  size_t length = 0;
  bool ok = false;
  if (text.size() == 2 * kSecretKeyBytes && all_hex(text)) {
    ok = sodium_hex2bin(buffer, sizeof buffer, text.data(), text.size(), nullptr, &length,
                        nullptr) == 0;
  } else {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    for (int variant :
         {sodium_base64_VARIANT_ORIGINAL_NO_PADDING, sodium_base64_VARIANT_URLSAFE_NO_PADDING}) {
      ok = sodium_base642bin(buffer, sizeof buffer, text.data(), text.size(), nullptr, &length,
                             nullptr, variant) == 0;
      if (ok) break;
    }
  }
  ok = ok && length == kSecretKeyBytes;
  if (ok) std::memcpy(out, buffer, kSecretKeyBytes);
  sodium_memzero(buffer, sizeof buffer);
  return ok;
}

Status io_error(const fs::path& path, std::string_view doing) {
  return Status::IOError(path.string() + ": cannot " + std::string(doing) + ": " +
                         std::strerror(errno));
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Reads exactly `size` bytes; false on a short read or an error.
bool read_exactly(int fd, unsigned char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool write_all(int fd, const unsigned char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The key file as it is: private to its owner, a regular file of 32 bytes.
Result<SecretKey> read_key_file(int fd, const fs::path& path) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return io_error(path, "read its status");
  if (!S_ISREG(info.st_mode))
    return Status::FailedPrecondition(path.string() + ": is not a regular file");
  if ((info.st_mode & 077) != 0) {
    return Status::FailedPrecondition(
        path.string() + ": group or others may use it (mode " + mode_text(info.st_mode) +
        "); a secret key must be private to its owner: chmod 600 " + path.string());
  }
  if (info.st_size != static_cast<off_t>(kSecretKeyBytes)) {
    return Status::Corruption(path.string() + ": holds " + std::to_string(info.st_size) +
                              " bytes; a key is " + std::to_string(kSecretKeyBytes) +
                              " random bytes (the file is damaged or not a Cadre key)");
  }
  SecretKey key;
  if (!read_exactly(fd, key.data(), kSecretKeyBytes)) return io_error(path, "read it");
  key.set_source(path.string());
  return key;
}

Result<SecretKey> open_key_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ELOOP) return Status::FailedPrecondition(path.string() + ": is a symbolic link");
    return io_error(path, "open it");
  }
  Result<SecretKey> key = read_key_file(fd, path);
  ::close(fd);
  return key;
}

Status sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir, "open the folder");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : io_error(dir, "sync the folder");
}

// Writes a new random key beside `path` and links it into place, so a
// reader never sees a half-written key and two processes making one at
// once agree on the first.
Result<SecretKey> create_key_file(const fs::path& dir, const fs::path& path) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError(dir.string() + ": cannot create the folder: " + ec.message());
  SecretKey key;
  randombytes_buf(key.data(), kSecretKeyBytes);
  key.set_source(path.string());
  fs::path temp = dir / (std::string(kSecretKeyFile) + ".new-" + new_id("key"));
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error(temp, "create it");
  bool written = write_all(fd, key.data(), kSecretKeyBytes) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    Status failed = io_error(temp, "write it");
    ::unlink(temp.c_str());
    return failed;
  }
  int linked = ::link(temp.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(temp.c_str());
  if (linked != 0 && link_errno == EEXIST) return open_key_file(path);  // another process won
  if (linked != 0) {
    errno = link_errno;
    return io_error(path, "create it");
  }
  CADRE_RETURN_IF_ERROR(sync_dir(dir));
  return key;
}

}  // namespace

Result<SecretKey> decode_secret_key(std::string_view text, std::string_view what) {
  if (!sodium_ready()) return Status::Internal("libsodium could not be initialized");
  SecretKey key;
  if (!decode_key_bytes(trimmed(text), key.data())) {
    // The text is not repeated: it is (meant to be) a key.
    return Status::InvalidArgument(
        std::string(what) + ": expected a " + std::to_string(kSecretKeyBytes) +
        "-byte key written as 64 hex digits or as base64 (openssl rand -base64 32)");
  }
  key.set_source(std::string(what));
  return key;
}

Result<SecretKey> load_secret_key(const fs::path& state_dir, KeyMissing missing) {
  if (!sodium_ready()) return Status::Internal("libsodium could not be initialized");
  const char* from_env = std::getenv(kSecretKeyEnv);
  if (from_env != nullptr && *from_env != '\0') return decode_secret_key(from_env, kSecretKeyEnv);
  const fs::path path = state_dir / kSecretKeyFile;
  std::error_code ec;
  if (fs::symlink_status(path, ec).type() != fs::file_type::not_found) return open_key_file(path);
  if (missing == KeyMissing::kCreate) return create_key_file(state_dir, path);
  return Status::FailedPrecondition(
      "no secret key: " + path.string() + " does not exist and " + kSecretKeyEnv +
      " is not set (the key is made by the first `cadre secret set`; give the same key back "
      "through " +
      kSecretKeyEnv + " or that file)");
}

}  // namespace cadre

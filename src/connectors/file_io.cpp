#include "connectors/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cadre {
namespace fs = std::filesystem;

Status errno_status(int err, const std::string& what) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::ResourceExhausted(msg + " (the disk is full)");
  if (err == EROFS) return Status::IOError(msg + " (a read-only file system)");
  if (err == EACCES || err == EPERM) return Status::IOError(msg + " (permission denied)");
  if (err == EINTR || err == EAGAIN) return Status::Unavailable(msg);
  return Status::IOError(msg);
}

Result<fs::path> resolve_under_root(const fs::path& root, const std::string& relative, const std::string& root_name) {
  if (relative.empty()) return Status::InvalidArgument("path is empty");
  if (relative.find('\0') != std::string::npos) return Status::InvalidArgument("path contains a NUL byte");
  fs::path rel(relative);
  if (rel.is_absolute()) return Status::InvalidArgument("path '" + relative + "' must be relative to " + root_name);
  std::error_code ec;
  fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return Status::IOError("cannot resolve " + root_name + " " + root.string());
  // weakly_canonical follows the symbolic links that exist, so a link out of
  // the root is caught here too.
  fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return Status::IOError("cannot resolve path '" + relative + "'");
  auto [base_end, full_it] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (base_end != base.end()) return Status::InvalidArgument("path '" + relative + "' leads outside " + root_name);
  if (full_it != full.end() && *full_it == ".cadre")
    return Status::InvalidArgument("path '" + relative + "' is inside the private .cadre folder");
  return full;
}

Status write_all(int fd, const std::string& data, const std::string& label) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(errno, "cannot write " + label);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status write_file_atomically(const fs::path& path, const std::string& content, const std::string& temp_suffix,
                             const std::string& label) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return errno_status(ec.value(), "cannot create the folder of " + label);
  fs::path temp = path;
  temp += ".cadre-tmp-" + temp_suffix;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status(errno, "cannot create " + label);
  Status s = write_all(fd, content, label);
  if (s.ok() && ::fsync(fd) != 0) s = errno_status(errno, "cannot flush " + label);
  ::close(fd);
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) s = errno_status(errno, "cannot replace " + label);
  if (!s.ok()) ::unlink(temp.c_str());
  return s;
}

}  // namespace cadre

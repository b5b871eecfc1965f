// POSIX output at offsets.
#include "io/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "spartanxx/errors.hpp"

namespace spartanxx::detail::io {

OutputFile::OutputFile(const std::string& path, const char* op, const std::string& target, bool create)
    : path_(path), target_(target), op_(op) {
  const int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  fd_ = ::open(path.c_str(), flags, 0666);
  if (fd_ < 0)
    throw io_error(fmt::format("{}: cannot write {}: cannot {} {}: {}", op, target, create ? "create" : "open", path,
                               std::strerror(errno)));
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void OutputFile::write_at(std::int64_t offset, const char* data, std::int64_t n) {
  std::int64_t done = 0;
  while (done < n) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(n - done, std::int64_t{1} << 30));
    const ssize_t got = ::pwrite(fd_, data + done, want, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw io_error(fmt::format("{}: cannot write {}: writing {} failed: {}", op_, target_, path_, std::strerror(errno)));
    }
    done += got;
  }
}

void OutputFile::close() {
  const int fd = fd_;
  fd_ = -1;
  if (fd >= 0 && ::close(fd) != 0)
    throw io_error(fmt::format("{}: cannot write {}: closing {} failed: {}", op_, target_, path_, std::strerror(errno)));
}

}  // namespace spartanxx::detail::io

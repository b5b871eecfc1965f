// POSIX output at offsets.
#include "io/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "mpi_backend/communicator.hpp"
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

void write_pieces(backend::Communicator& comm, const std::string& path, const char* op, std::string_view head,
                  const std::vector<std::pair<std::int64_t, std::string_view>>& pieces) {
  const int rank = comm.rank();
  std::int64_t pid = static_cast<std::int64_t>(::getpid());
  comm.broadcast(&pid, 1, 0);
  const std::string tmp = fmt::format("{}.tmp-{}", path, pid);
  try {
    comm.run_agreed([&] {
      if (rank != 0) return;
      OutputFile f(tmp, op, path, /*create=*/true);
      if (!head.empty()) f.write_at(0, head.data(), static_cast<std::int64_t>(head.size()));
      f.close();
    });
    comm.run_agreed([&] {
      if (pieces.empty()) return;
      OutputFile f(tmp, op, path, /*create=*/false);
      for (const auto& [offset, bytes] : pieces) f.write_at(offset, bytes.data(), static_cast<std::int64_t>(bytes.size()));
      f.close();
    });
    comm.run_agreed([&] {
      if (rank != 0) return;
      if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw io_error(fmt::format("{}: cannot write {}: renaming {} to it failed: {}", op, path, tmp,
                                   std::strerror(errno)));
    });
  } catch (...) {
    if (rank == 0) ::unlink(tmp.c_str());
    comm.barrier();  // nobody returns before the temporary file is gone
    throw;
  }
}

}  // namespace spartanxx::detail::io

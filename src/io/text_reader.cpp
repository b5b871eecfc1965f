// Parallel line reading: files, byte ranges and the collective end of a pass.
#include "io/text_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"

namespace spartanxx::detail::io {

InputFile::InputFile(const std::string& path, const char* op) : path_(path), op_(op) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw io_error(fmt::format("{}: cannot open {}: {}", op, path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw io_error(fmt::format("{}: cannot stat {}: {}", op, path, std::strerror(err)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw io_error(fmt::format("{}: cannot read {}: it is a directory", op, path));
  }
  size_ = static_cast<std::int64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::int64_t InputFile::read_at(std::int64_t offset, char* out, std::int64_t n) const {
  std::int64_t done = 0;
  while (done < n) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::int64_t>(n - done, std::int64_t{1} << 30));
    const ssize_t got = ::pread(fd_, out + done, want, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw io_error(fmt::format("{}: cannot read {}: {}", op_, path_, std::strerror(errno)));
    }
    if (got == 0) break;
    done += got;
  }
  return done;
}

void byte_range(std::int64_t begin, std::int64_t end, int rank, int nranks, std::int64_t& lo, std::int64_t& hi) {
  const std::int64_t d = std::max<std::int64_t>(end - begin, 0);
  const std::int64_t q = d / nranks, rem = d % nranks;
  // floor(d * r / P) without overflow: q * r + floor(rem * r / P), rem * r < P * P.
  auto cut = [&](std::int64_t r) { return begin + q * r + rem * r / nranks; };
  lo = cut(rank);
  hi = cut(rank + 1);
}

std::vector<std::int64_t> finish_pass(backend::Communicator& comm, const LinePass& pass, const char* op,
                                      const std::string& path, std::int64_t lines_before,
                                      const std::vector<std::int64_t>& extra) {
  const std::size_t k = extra.size() + 1;
  std::vector<std::int64_t> mine(k);
  mine[0] = pass.lines;
  for (std::size_t i = 0; i < extra.size(); ++i) mine[i + 1] = extra[i];
  const std::vector<std::int64_t> all = comm.allgather(mine.data(), k);

  std::exception_ptr err = pass.failure;
  if (!err && pass.error_line >= 0) {
    std::int64_t line = lines_before + pass.error_line + 1;
    for (int r = 0; r < comm.rank(); ++r) line += all[static_cast<std::size_t>(r) * k];
    err = std::make_exception_ptr(io_error(fmt::format("{}: {} line {}: {}", op, path, line, pass.error)));
  }
  comm.agree(err);

  std::vector<std::int64_t> out;
  out.reserve(extra.size() * static_cast<std::size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r)
    for (std::size_t i = 1; i < k; ++i) out.push_back(all[static_cast<std::size_t>(r) * k + i]);
  return out;
}

bool parse_double_slow(std::string_view tok, double& out) {
  const std::string s(tok);
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && !s.empty();
}

std::string quoted(std::string_view tok) {
  if (tok.size() > 40) return fmt::format("\"{}...\"", tok.substr(0, 40));
  return fmt::format("\"{}\"", tok);
}

}  // namespace spartanxx::detail::io

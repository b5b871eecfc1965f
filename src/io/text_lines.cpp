// io::read_text_lines: the lines of a plain text file by byte ranges, or of a gzip file
// (decompressed by every rank, each keeping its share of the lines).
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "expr/boundary.hpp"
#include "io/output_file.hpp"
#include "io/text_reader.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"

namespace spartanxx::io {
namespace {

constexpr const char* kRead = "read_text_lines";

std::string without_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return std::string(s);
}

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

/// A gzip stream, closed on destruction.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (!f_) throw io_error(fmt::format("{}: cannot open {}: {}", kRead, path, std::strerror(errno ? errno : ENOENT)));
    gzbuffer(f_, 1 << 20);
  }
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  /// Calls on_line(line, index) for every line of the stream, from the start.
  template <class F>
  std::int64_t for_each_line(F&& on_line) {
    if (gzrewind(f_) != 0) fail();
    std::vector<char> buf(std::size_t{1} << 20);
    std::string carry;
    std::int64_t index = 0;
    for (;;) {
      const int got = gzread(f_, buf.data(), static_cast<unsigned>(buf.size()));
      if (got < 0) fail();
      if (got == 0) break;
      std::size_t at = 0;
      const auto n = static_cast<std::size_t>(got);
      while (at < n) {
        const void* nl = std::memchr(buf.data() + at, '\n', n - at);
        if (!nl) {
          carry.append(buf.data() + at, n - at);
          break;
        }
        const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
        if (carry.empty()) {
          on_line(std::string_view(buf.data() + at, end - at), index++);
        } else {
          carry.append(buf.data() + at, end - at);
          on_line(std::string_view(carry), index++);
          carry.clear();
        }
        at = end + 1;
      }
    }
    if (!carry.empty()) on_line(std::string_view(carry), index++);  // a last line without '\n'
    return index;
  }

 private:
  [[noreturn]] void fail() {
    int code = 0;
    const char* msg = gzerror(f_, &code);
    throw io_error(fmt::format("{}: {}: corrupt or unreadable gzip data: {}", kRead, path_, msg ? msg : "unknown error"));
  }
  std::string path_;
  gzFile f_;
};

TextLines read_gzip(const std::string& path, backend::Communicator& comm) {
  TextLines out;
  comm.run_agreed([&] {
    GzFile gz(path);
    const std::int64_t total = gz.for_each_line([](std::string_view, std::int64_t) {});
    const std::int64_t P = comm.size(), r = comm.rank();
    const std::int64_t lo = total * r / P, hi = total * (r + 1) / P;
    gz.for_each_line([&](std::string_view line, std::int64_t i) {
      if (i >= lo && i < hi) out.lines.push_back(without_cr(line));
    });
    out.first_line = lo;
    out.total_lines = total;
  });
  return out;
}

}  // namespace

TextLines read_text_lines(const std::string& path) {
  auto& comm = detail::context_comm();
  if (ends_with(path, ".gz")) return read_gzip(path, comm);
  std::unique_ptr<detail::io::InputFile> file;
  comm.run_agreed([&] { file = std::make_unique<detail::io::InputFile>(path, kRead); });
  std::int64_t lo = 0, hi = 0;
  detail::io::byte_range(0, file->size(), comm.rank(), comm.size(), lo, hi);
  TextLines out;
  const auto pass = detail::io::for_each_line(*file, 0, file->size(), lo, hi, [&](std::string_view line, std::int64_t) {
    out.lines.push_back(without_cr(line));
  });
  const auto counts = detail::io::finish_pass(comm, pass, kRead, path, 0, {static_cast<std::int64_t>(out.lines.size())});
  for (int r = 0; r < comm.size(); ++r) {
    if (r < comm.rank()) out.first_line += counts[static_cast<std::size_t>(r)];
    out.total_lines += counts[static_cast<std::size_t>(r)];
  }
  return out;
}

void write_text(const std::string& path, const std::string& local_text) {
  constexpr const char* kWrite = "write_text";
  auto& comm = detail::context_comm();
  const auto sizes = comm.allgather(static_cast<std::int64_t>(local_text.size()));
  std::int64_t offset = 0;
  for (int r = 0; r < comm.rank(); ++r) offset += sizes[static_cast<std::size_t>(r)];
  std::vector<std::pair<std::int64_t, std::string_view>> pieces;
  if (!local_text.empty()) pieces.emplace_back(offset, local_text);
  detail::io::write_pieces(comm, path, kWrite, {}, pieces);
}

}  // namespace spartanxx::io

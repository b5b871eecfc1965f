// io::read_text_lines: the lines of a plain text file by byte ranges, or of a gzip file
// (decompressed by every rank, each keeping its share of the lines).
#include <zlib.h>

#include <algorithm>
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

/// A gzip file decompressed with zlib's inflate, verified as it goes: every member must
/// end with its trailer (zlib checks its CRC-32 and length); members may follow one
/// another (as `cat a.gz b.gz` makes them); anything else after a member, a stream that
/// stops before its trailer, and corrupt data are io_errors naming the file and the byte
/// offset. (gzread would hand back a truncated stream's bytes without an error, pass a
/// file that is not gzip through as plain text and ignore trailing garbage.)
class GzFile {
 public:
  explicit GzFile(const std::string& path)
      : file_(path, kRead),
        // Not zeroed, and no larger than the file: a small file costs no page faults
        // for buffer pages it never touches (slow on some VMs).
        in_size_(static_cast<std::size_t>(std::clamp<std::int64_t>(file_.size(), 1, kBuffer))),
        in_(new char[in_size_]),
        out_(new char[kBuffer]) {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) throw io_error(fmt::format("{}: {}: cannot start zlib", kRead, path));
  }
  ~GzFile() { inflateEnd(&z_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  /// Calls on_line(line, index) for every line of the stream, from the start.
  template <class F>
  std::int64_t for_each_line(F&& on_line) {
    std::string carry;
    std::int64_t index = 0;
    decompress([&](const char* data, std::size_t n) {
      std::size_t at = 0;
      while (at < n) {
        const void* nl = std::memchr(data + at, '\n', n - at);
        if (!nl) {
          carry.append(data + at, n - at);
          break;
        }
        const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
        if (carry.empty()) {
          on_line(std::string_view(data + at, end - at), index++);
        } else {
          carry.append(data + at, end - at);
          on_line(std::string_view(carry), index++);
          carry.clear();
        }
        at = end + 1;
      }
    });
    if (!carry.empty()) on_line(std::string_view(carry), index++);  // a last line without '\n'
    return index;
  }

 private:
  /// Feeds every decompressed block to on_block(data, n), the whole file from the start.
  template <class F>
  void decompress(F&& on_block) {
    char* const in = in_.get();
    char* const out = out_.get();
    if (inflateReset(&z_) != Z_OK) fail(0, "cannot reset zlib");
    std::int64_t offset = 0;  // bytes of the file read so far
    bool in_member = false;   // inside a member (its header seen, its trailer not yet)
    z_.avail_in = 0;
    for (;;) {
      if (z_.avail_in == 0) {
        const std::int64_t got = file_.read_at(offset, in, static_cast<std::int64_t>(in_size_));
        if (got == 0) break;
        offset += got;
        z_.next_in = reinterpret_cast<Bytef*>(in);
        z_.avail_in = static_cast<uInt>(got);
      }
      const std::int64_t here = offset - z_.avail_in;  // the file offset of the next input byte
      if (!in_member) {
        // A member starts here: it must be a gzip header (a second member after the
        // first is allowed; anything else is trailing garbage).
        if (static_cast<unsigned char>(z_.next_in[0]) != 0x1f ||
            (z_.avail_in >= 2 && static_cast<unsigned char>(z_.next_in[1]) != 0x8b))
          fail(here, here == 0 ? "not a gzip file (no gzip header at the start)"
                               : "trailing bytes after the end of the gzip stream (not another gzip member)");
        in_member = true;
      }
      z_.next_out = reinterpret_cast<Bytef*>(out);
      z_.avail_out = static_cast<uInt>(kBuffer);
      const int rc = inflate(&z_, Z_NO_FLUSH);
      const std::size_t produced = static_cast<std::size_t>(kBuffer) - z_.avail_out;
      if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
        fail(offset - z_.avail_in, std::string("corrupt gzip data: ") + (z_.msg ? z_.msg : "invalid stream"));
      if (rc == Z_MEM_ERROR) fail(offset - z_.avail_in, "out of memory in zlib");
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        fail(offset - z_.avail_in, fmt::format("zlib error {}", rc));
      if (produced > 0) on_block(out, produced);
      if (rc == Z_STREAM_END) {  // the trailer's CRC-32 and length matched
        in_member = false;
        if (inflateReset(&z_) != Z_OK) fail(offset - z_.avail_in, "cannot reset zlib");
      }
    }
    if (in_member || offset == 0)
      fail(offset, offset == 0 ? "empty file, not a gzip stream"
                               : "truncated: the gzip stream ends before its trailer (unexpected end of file)");
  }

  [[noreturn]] void fail(std::int64_t offset, const std::string& what) {
    throw io_error(fmt::format("{}: {}: {} at byte {} of {}", kRead, file_.path(), what, offset, file_.size()));
  }
  static constexpr std::int64_t kBuffer = std::int64_t{1} << 20;
  detail::io::InputFile file_;
  std::size_t in_size_;
  std::unique_ptr<char[]> in_, out_;
  z_stream z_{};
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

#pragma once
// Parallel reading of line-oriented text files: each rank takes an equal byte range of
// the data section and parses the lines that begin inside it, in blocks (no iostreams,
// no whole-file buffer). Parse errors are recorded with the rank's local line index and
// turned into "op: path line N: message" once every rank knows where its lines begin,
// then agreed on so that every rank throws the same io_error.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail::io {

/// A file open for reading (POSIX descriptor, closed on destruction).
class InputFile {
 public:
  /// Throws io_error "op: cannot open path: reason".
  InputFile(const std::string& path, const char* op);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  /// Reads up to `n` bytes at `offset` (fewer only at the end of the file); io_error on failure.
  std::int64_t read_at(std::int64_t offset, char* out, std::int64_t n) const;

 private:
  std::string path_;
  const char* op_;
  int fd_ = -1;
  std::int64_t size_ = 0;
};

/// Thrown by a line parser: the message (without file and line) of a malformed line.
struct LineError {
  std::string message;
};

/// What a rank's pass over its lines found.
struct LinePass {
  std::int64_t lines = 0;        // lines that begin in this rank's range (all of them, blank too)
  std::int64_t error_line = -1;  // local index of the line a LineError came from
  std::string error;             // its message
  std::exception_ptr failure;    // any other exception (I/O, memory)
};

/// This rank's share [lo, hi) of bytes [begin, end): an equal cut in rank order.
void byte_range(std::int64_t begin, std::int64_t end, int rank, int nranks, std::int64_t& lo, std::int64_t& hi);

/// Calls on_line(line, local_index) for every line that begins in [lo, hi) of `file`
/// (a line begins at `begin`, or right after a '\n'); lines may run past hi, up to `end`.
/// The line excludes its '\n'. Stops at the first LineError or other exception and records it.
/// The file is read `block` bytes at a time.
template <class F>
LinePass for_each_line(const InputFile& file, std::int64_t begin, std::int64_t end, std::int64_t lo,
                       std::int64_t hi, F&& on_line, std::int64_t block = std::int64_t{4} << 20);

/// Collective. Exchanges the line counts of every rank's pass and turns a recorded error
/// into io_error "op: path line N: message" (N counted from 1, after `lines_before` lines
/// that precede the data section); agrees on errors so that every rank throws the same.
/// Returns every rank's `extra` values (k per rank, rank-major), gathered in the same exchange.
std::vector<std::int64_t> finish_pass(backend::Communicator& comm, const LinePass& pass, const char* op,
                                      const std::string& path, std::int64_t lines_before,
                                      const std::vector<std::int64_t>& extra);

/// The line without trailing whitespace ('\r' of CRLF files included) and leading blanks.
inline std::string_view trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\f' || s[b] == '\v')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\f' || s[e - 1] == '\v')) --e;
  return s.substr(b, e - b);
}

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

/// Splits a trimmed line at blanks into at most `max` tokens; returns the total count
/// (which may exceed max: only the first max are stored).
inline int split(std::string_view s, std::string_view* out, int max) {
  int n = 0;
  std::size_t i = 0;
  const std::size_t len = s.size();
  while (i < len) {
    while (i < len && is_blank(s[i])) ++i;
    if (i == len) break;
    std::size_t j = i;
    while (j < len && !is_blank(s[j])) ++j;
    if (n < max) out[n] = s.substr(i, j - i);
    ++n;
    i = j;
  }
  return n;
}

/// A whole token as a 64-bit integer (optional sign); false otherwise.
inline bool parse_int(std::string_view tok, std::int64_t& out) {
  const char* b = tok.data();
  const char* e = b + tok.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e;
}

/// A whole token as a double (decimal or exponent form, inf, nan, optional sign); false otherwise.
bool parse_double_slow(std::string_view tok, double& out);
inline bool parse_double(std::string_view tok, double& out) {
  const char* b = tok.data();
  const char* e = b + tok.size();
  if (b != e && *b == '+') ++b;
  if (b == e || *b == '+') return false;
  auto r = std::from_chars(b, e, out, std::chars_format::general);
  if (r.ec == std::errc() && r.ptr == e) return true;
  if (r.ec == std::errc::result_out_of_range && r.ptr == e) return parse_double_slow(tok, out);
  return false;
}

/// A token quoted for a message, shortened when long.
std::string quoted(std::string_view tok);

// ---------------------------------------------------------------------------------------

template <class F>
LinePass for_each_line(const InputFile& file, std::int64_t begin, std::int64_t end, std::int64_t lo,
                       std::int64_t hi, F&& on_line, std::int64_t block) {
  LinePass pass;
  try {
    const std::int64_t kBlock = std::max<std::int64_t>(block, 1);
    std::vector<char> buf;
    // Where this rank's first line starts: lo itself when a line begins there, else just
    // after the first '\n' in [lo - 1, hi - 1).
    std::int64_t start = lo;
    if (lo > begin && lo < hi) {
      start = -1;
      std::int64_t pos = lo - 1;
      while (pos < hi - 1 && start < 0) {
        const std::int64_t n = std::min(kBlock, hi - 1 - pos);
        buf.resize(static_cast<std::size_t>(n));
        const std::int64_t got = file.read_at(pos, buf.data(), n);
        if (got <= 0) break;
        for (std::int64_t i = 0; i < got; ++i)
          if (buf[static_cast<std::size_t>(i)] == '\n') {
            start = pos + i + 1;
            break;
          }
        pos += got;
      }
      if (start < 0) start = hi;  // no line begins in this range
    }
    if (start >= hi) return pass;

    // Blocks from `start`; `keep` bytes at the front of buf are a partial line carried over,
    // beginning at file offset `line_off`.
    std::int64_t pos = start, line_off = start;
    std::size_t keep = 0;
    while (true) {
      const std::int64_t n = std::min(kBlock, end - pos);
      buf.resize(keep + static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
      const std::int64_t got = n > 0 ? file.read_at(pos, buf.data() + keep, n) : 0;
      pos += got;
      const std::size_t filled = keep + static_cast<std::size_t>(got);
      const bool at_end = got < n || pos >= end;
      std::size_t b = 0;
      while (true) {
        const void* nl = std::memchr(buf.data() + b, '\n', filled - b);
        if (!nl) break;
        const std::size_t e = static_cast<std::size_t>(static_cast<const char*>(nl) - buf.data());
        if (line_off >= hi) return pass;
        try {
          on_line(std::string_view(buf.data() + b, e - b), pass.lines);
        } catch (LineError& le) {
          pass.error_line = pass.lines;
          pass.error = std::move(le.message);
          return pass;
        }
        ++pass.lines;
        line_off += static_cast<std::int64_t>(e + 1 - b);
        b = e + 1;
      }
      if (line_off >= hi) return pass;
      if (at_end) {
        if (b < filled) {  // a last line without '\n'
          try {
            on_line(std::string_view(buf.data() + b, filled - b), pass.lines);
          } catch (LineError& le) {
            pass.error_line = pass.lines;
            pass.error = std::move(le.message);
            return pass;
          }
          ++pass.lines;
        }
        return pass;
      }
      keep = filled - b;
      if (keep && b) std::memmove(buf.data(), buf.data() + b, keep);
    }
  } catch (...) {
    pass.failure = std::current_exception();
  }
  return pass;
}

}  // namespace spartanxx::detail::io

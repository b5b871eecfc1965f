#pragma once
// A file written at explicit offsets by several ranks (POSIX pwrite), with every failure
// an io_error naming the file the caller meant to write.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail::io {

class OutputFile {
 public:
  /// Opens `path` for writing (created and truncated when `create`). Errors read
  /// "op: cannot write target: ...".
  OutputFile(const std::string& path, const char* op, const std::string& target, bool create);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Writes all `n` bytes at `offset`.
  void write_at(std::int64_t offset, const char* data, std::int64_t n);
  /// Closes, reporting a failure of the final flush.
  void close();

 private:
  std::string path_, target_;
  const char* op_;
  int fd_ = -1;
};

/// Writes `path` from pieces that the ranks hold, so that it is never left half-written:
/// rank 0 creates a temporary file beside it and writes `head` at offset 0, every rank
/// writes its (offset, bytes) pieces, and rank 0 renames the file to `path` once all have
/// succeeded. A failure anywhere removes the temporary file and raises io_error naming
/// `path` (prefixed by `op`) on every rank. Collective.
void write_pieces(backend::Communicator& comm, const std::string& path, const char* op, std::string_view head,
                  const std::vector<std::pair<std::int64_t, std::string_view>>& pieces);

}  // namespace spartanxx::detail::io

#pragma once
// A file written at explicit offsets by several ranks (POSIX pwrite), with every failure
// an io_error naming the file the caller meant to write.
#include <cstdint>
#include <string>

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

}  // namespace spartanxx::detail::io

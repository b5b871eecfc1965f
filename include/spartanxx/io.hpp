#pragma once
// Reading and writing sparse data files: Matrix Market (coordinate) and libsvm /
// svmlight. Every function is collective: all ranks call it with the same arguments.
// Readers are parallel: rank r parses bytes [r*size/P, (r+1)*size/P) of the data
// section, starting at the first line that begins inside its range. Malformed input
// raises io_error on every rank, naming the file and the 1-based line.
//
//     auto A = spartanxx::io::read_matrix_market("graph.mtx");      // sparse (n, m)
//     spartanxx::io::write_matrix_market("copy.mtx", A);
//     auto [X, y] = spartanxx::io::read_libsvm("train.svm");       // X sparse (n, d), y (n,)
#include <cstdint>
#include <string>
#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/dtype.hpp"

namespace spartanxx::io {

/// A Matrix Market coordinate file as a sparse matrix split by rows. Fields real,
/// integer and pattern (every value 1); symmetry general or symmetric (off-diagonal
/// entries mirrored). Skew-symmetric, hermitian, complex and array files raise io_error
/// saying what is unsupported. Duplicate entries are summed. Collective.
Array read_matrix_market(const std::string& path, DType dtype = DType::f64);

/// Writes a 2-d array (sparse: its stored entries; dense: its nonzeros) as
/// "%%MatrixMarket matrix coordinate real general", 1-based, rows in order, values in
/// the shortest form that reads back to the same number. The file is written under a
/// temporary name next to `path` and renamed once every rank succeeded, so a failure
/// leaves no half-written file. Collective.
void write_matrix_market(const std::string& path, const Array& a);

/// Features and labels of a libsvm file.
struct LabeledData {
  Array X;  ///< sparse (n, d) float64, split by rows
  Array y;  ///< float64 (n,), the labels as written
};

/// A libsvm / svmlight file: "label idx:val idx:val ... [# comment]" per line. Indices are
/// 1-based unless `zero_based`; they need not be ascending (duplicates are summed);
/// "qid:N" tokens are ignored. With n_features = 0 the largest index decides d; otherwise
/// an index >= n_features is an error. Empty and comment-only lines are skipped.
/// Collective.
LabeledData read_libsvm(const std::string& path, std::int64_t n_features = 0, bool zero_based = false);

/// This rank's lines of a text file, read in parallel. A plain file is cut into equal
/// byte ranges and each rank takes the lines that begin in its range; a file whose name
/// ends in ".gz" (gzip, which cannot be cut) is decompressed by every rank, each keeping
/// an equal share of the lines. Lines are in file order across ranks (rank 0's first),
/// without their '\n' or a trailing '\r'. Collective; a missing or unreadable file (or
/// a corrupt gzip stream) raises io_error naming it on every rank.
struct TextLines {
  std::vector<std::string> lines;
  std::int64_t first_line = 0;   // the file line (from 0) of lines[0]
  std::int64_t total_lines = 0;  // over all ranks
};
TextLines read_text_lines(const std::string& path);

/// Writes every rank's `local_text` into one file, rank 0's first, as text files are
/// read back by read_text_lines. The bytes go to a temporary file beside `path`, renamed
/// to it only when every rank has written its part: `path` is never left half-written.
/// Collective; a failure on any rank raises io_error naming `path` on every rank.
void write_text(const std::string& path, const std::string& local_text);

}  // namespace spartanxx::io

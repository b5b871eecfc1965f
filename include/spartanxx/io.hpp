#pragma once
// Reading and writing data files: HDF5 (parallel, dense datasets and anndata/SciPy CSR
// groups), Matrix Market (coordinate), libsvm / svmlight and text. Every function is
// collective: all ranks call it with the same arguments.
// Readers are parallel: rank r parses bytes [r*size/P, (r+1)*size/P) of the data
// section, starting at the first line that begins inside its range. Malformed input
// raises io_error on every rank, naming the file and the 1-based line.
//
//     auto A = spartanxx::io::read_matrix_market("graph.mtx");      // sparse (n, m)
//     spartanxx::io::write_matrix_market("copy.mtx", A);
//     auto [X, y] = spartanxx::io::read_libsvm("train.svm");       // X sparse (n, d), y (n,)
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/dtype.hpp"

namespace spartanxx::io {

// ---- HDF5 ----

/// An attribute's value: a string, a number, or a vector of numbers (anndata's `shape`).
using AttributeValue = std::variant<std::string, std::int64_t, double, std::vector<std::int64_t>, std::vector<double>>;
using Attributes = std::map<std::string, AttributeValue>;

/// A dataset (or a sparse group) of an HDF5 file as an array.
///
/// - A dataset is a lazy leaf: its shape and dtype are known at once (a missing file or
///   dataset is an io_error here, on every rank), its elements are read when the graph
///   is evaluated, each rank reading only its tiles of the layout the plan chose, with
///   collective MPI-IO transfers; a row slice of it reads only those rows. Contiguous,
///   chunked and compressed (gzip, shuffle) datasets, 0-d to N-d, any byte order. Types:
///   float64, float32, int64, int32 and h5py's bool as themselves; int8, int16, uint8
///   and uint16 widen to int32, uint32 to int64; others are a dtype_error.
/// - A group whose attribute `encoding-type` is "csr_matrix" or "csc_matrix" (anndata
///   and SciPy's layout: `data`, `indices`, `indptr`, attribute `shape`) is a sparse
///   matrix, read in parallel now: each rank reads the `indptr` of its rows and then
///   their `indices` and `data`, rows balanced by stored entries. A bad `indptr` or an
///   index out of range is a value_error naming the file and group.
///
///     auto x = spartanxx::io::read_hdf5("data.h5", "/train/x");   // nothing read yet
///     auto m = spartanxx::mean(x.slice({Range{0, 1000}}), 0);       // reads 1000 rows
Array read_hdf5(const std::string& path, const std::string& dataset);

struct Hdf5Options {
  /// Add to (or create) the file, instead of making a new file that replaces `path`.
  bool append = false;
  /// With `append`: replace a dataset or group of that name (an io_error otherwise).
  bool overwrite = false;
  /// Chunk shape (one extent per axis); empty: contiguous, or chunks of about 1 MiB
  /// when compressed.
  std::vector<std::int64_t> chunks;
  /// gzip level 1 to 9 (0: none), and the shuffle filter before it.
  int gzip = 0;
  bool shuffle = false;
  /// Attributes of the dataset (of the group for a sparse array).
  Attributes attributes;
  /// Sparse arrays: `indices` and `indptr` as int32 (false: int64).
  bool index32 = false;
};

/// Writes an array to an HDF5 file: dense arrays as a dataset (little-endian; bool as
/// h5py's enum), sparse ones as an anndata "csr_matrix" group (`data`, `indices`,
/// `indptr`, attributes `encoding-type`, `encoding-version` = "0.1.0", `shape`). Every
/// rank writes its tiles with collective transfers; intermediate groups are created. A
/// new file goes to a temporary name beside `path`, renamed once every rank succeeded:
/// a failure leaves `path` as it was. Errors: io_error naming the file and dataset, on
/// every rank.
///
///     spartanxx::io::Hdf5Options o;
///     o.gzip = 4;
///     spartanxx::io::write_hdf5("out.h5", "/w", w, o);
void write_hdf5(const std::string& path, const std::string& dataset, const Array& a, const Hdf5Options& options = {});

/// The attributes of a group or dataset, and adding to them (the file must exist).
Attributes read_hdf5_attributes(const std::string& path, const std::string& object);
void write_hdf5_attributes(const std::string& path, const std::string& object, const Attributes& attributes);

// ---- checkpoints ----

/// One consistent snapshot of a computation: its step, named dense arrays (any layout,
/// any dtype), numbers, lists of numbers and texts. Names are non-empty and hold no '/'.
struct Snapshot {
  std::string kind;  ///< what wrote it ("sgd", "model", ...): restore's caller checks it
  std::int64_t step = 0;
  std::map<std::string, Array> arrays;
  std::map<std::string, double> scalars;
  std::map<std::string, std::vector<double>> series;
  std::map<std::string, std::string> texts;
};

/// Writes `snapshot` to `path` as HDF5 (format "spartanxx-checkpoint", version 2), every
/// rank its tiles, atomically: the bytes go to a temporary file in the same directory,
/// which is closed and fsync'd; then the previous checkpoint at `path` (if any) becomes
/// `path` + ".prev" (a hard link, so `path` is never missing), the temporary file is
/// renamed to `path` and the directory fsync'd. A killed writer leaves the previous
/// checkpoint in place (and a temporary file that the next checkpoint removes). Each
/// array carries a checksum of its elements and the file one of everything; the file's
/// first 512 bytes (HDF5's user block, which HDF5 tools skip) are a seal holding the
/// length and CRC-32 of the bytes after it, checked before libhdf5 parses the file, so
/// that a damaged file is reported and never handed to libhdf5 (whose 1.10.8 parser can
/// hang on damaged metadata). Sparse
/// arrays are a value_error (write them with write_hdf5). Collective; errors (io_error
/// naming the file) on every rank, nothing left half-written.
///
///     spartanxx::io::checkpoint("run.ckpt", {"sgd", i, {{"w", w}}, {{"b", b}}, {{"loss", history}}, {}});
/// `keep_previous` false: a file that was at `path` is replaced without a ".prev" copy
/// (a saved model, say).
void checkpoint(const std::string& path, const Snapshot& snapshot, bool keep_previous = true);

/// The snapshot in one checkpoint file, verified as restore does, without falling back
/// to another file: io_error naming the file when it is missing, damaged or of another
/// format version. Collective.
Snapshot read_checkpoint(const std::string& path);

/// A snapshot read back, the file it came from, and why newer files were passed over.
struct Restored {
  Snapshot snapshot;
  std::string file;                   ///< `path` or `path` + ".prev"
  std::vector<std::string> rejected;  ///< one message per file that was missing or damaged
};

/// Reads the checkpoint at `path` at any rank count: the seal checked first (the file's
/// length and CRC-32, each rank reading a share), then every array read (by rows), its
/// checksum and the file's verified, the format and version checked. Files of format 1
/// (before the seal) are not read. When `path` is
/// missing, truncated or damaged (the message names it and what was wrong), the previous
/// checkpoint `path` + ".prev" is used, as SCR's restart does; when neither is usable,
/// io_error naming both. Arrays come back evaluated, in row tiles; the next plan moves
/// them where it wants them. Collective.
Restored restore(const std::string& path);

// ---- text formats ----

/// What a text reader does with NaN and infinite values ("nan", "inf", "-Infinity", or a
/// number too large for a double): by default they are an io_error naming the file and
/// line (a NaN in the input is far more often a bug upstream than data); `accept` keeps
/// them.
enum class NonFinite { reject, accept };

/// A Matrix Market coordinate file as a sparse matrix split by rows. Fields real,
/// integer and pattern (every value 1); symmetry general or symmetric (off-diagonal
/// entries mirrored). Skew-symmetric, hermitian, complex and array files raise io_error
/// saying what is unsupported. Duplicate entries are summed. Non-finite values: see
/// NonFinite. The declared size is checked against what a rank may use (see
/// require_memory()) before anything is allocated: memory_error, on every rank. The
/// declared entry count must equal the entries found. Collective.
Array read_matrix_market(const std::string& path, DType dtype = DType::f64, NonFinite nonfinite = NonFinite::reject);

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
/// Non-finite labels and values: see NonFinite. Collective.
LabeledData read_libsvm(const std::string& path, std::int64_t n_features = 0, bool zero_based = false,
                        NonFinite nonfinite = NonFinite::reject);

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

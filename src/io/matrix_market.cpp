// Matrix Market coordinate files: a parallel reader (each rank parses an equal byte range
// of the data section) and a parallel writer (each rank formats its rows and writes them
// at their offset into a temporary file that is renamed once every rank succeeded).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "array/dist_array.hpp"
#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "io/output_file.hpp"
#include "io/text_reader.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/runtime.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx::io {
namespace {

using detail::io::InputFile;
using detail::io::LineError;

constexpr const char* kRead = "read_matrix_market";
constexpr const char* kWrite = "write_matrix_market";

struct Header {
  bool pattern = false;
  bool integer = false;
  bool symmetric = false;
  std::int64_t rows = 0, cols = 0, entries = 0;
  std::int64_t data_begin = 0;    // file offset of the first data line
  std::int64_t lines_before = 0;  // lines up to and including the size line
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads the banner, the comments and the size line (every rank reads them itself).
Header read_header(const InputFile& file) {
  const std::string& path = file.path();
  auto fail = [&](std::int64_t line, const std::string& msg) {
    return io_error(fmt::format("{}: {} line {}: {}", kRead, path, line, msg));
  };
  std::string buf;
  std::int64_t off = 0;  // bytes of the file in buf
  std::size_t b = 0;     // start of the next line in buf
  bool eof = false;
  // The next line (without '\n'), or false at the end of the file.
  auto next_line = [&](std::string& line) {
    while (true) {
      const std::size_t nl = buf.find('\n', b);
      if (nl != std::string::npos) {
        line.assign(buf, b, nl - b);
        b = nl + 1;
        return true;
      }
      if (eof) {
        if (b >= buf.size()) return false;
        line.assign(buf, b, std::string::npos);
        b = buf.size();
        return true;
      }
      const std::size_t old = buf.size();
      constexpr std::int64_t kChunk = 1 << 16;
      buf.resize(old + kChunk);
      const std::int64_t got = file.read_at(off, buf.data() + old, kChunk);
      buf.resize(old + static_cast<std::size_t>(got));
      off += got;
      if (got < kChunk) eof = true;
    }
  };

  Header h;
  std::string line;
  std::int64_t line_no = 0;
  if (!next_line(line))
    throw fail(1, "header: not a Matrix Market file (the file is empty)");
  line_no = 1;
  std::string_view fields[6];
  const int nf = detail::io::split(detail::io::trim(line), fields, 6);
  if (nf == 0 || lower(fields[0]) != "%%matrixmarket")
    throw fail(1, fmt::format("header: not a Matrix Market file (the first line must begin with "
                              "\"%%MatrixMarket matrix coordinate\", got {})",
                              detail::io::quoted(detail::io::trim(line))));
  if (nf != 5)
    throw fail(1, fmt::format("header: expected \"%%MatrixMarket matrix coordinate <field> <symmetry>\", got {}",
                              detail::io::quoted(detail::io::trim(line))));
  const std::string object = lower(fields[1]), format = lower(fields[2]), field = lower(fields[3]),
                    symmetry = lower(fields[4]);
  if (object != "matrix") throw fail(1, fmt::format("header: object \"{}\" is not supported (only matrix)", fields[1]));
  if (format == "array")
    throw fail(1, "header: the dense array format is not supported (only coordinate)");
  if (format != "coordinate") throw fail(1, fmt::format("header: unknown format \"{}\" (only coordinate)", fields[2]));
  if (field == "complex")
    throw fail(1, "header: complex values are not supported (only real, integer and pattern)");
  if (field == "pattern") h.pattern = true;
  else if (field == "integer") h.integer = true;
  else if (field != "real" && field != "double")
    throw fail(1, fmt::format("header: unknown field \"{}\" (only real, integer and pattern)", fields[3]));
  if (symmetry == "skew-symmetric")
    throw fail(1, "header: skew-symmetric matrices are not supported (only general and symmetric)");
  if (symmetry == "hermitian")
    throw fail(1, "header: hermitian matrices are not supported (only general and symmetric)");
  if (symmetry == "symmetric") h.symmetric = true;
  else if (symmetry != "general")
    throw fail(1, fmt::format("header: unknown symmetry \"{}\" (only general and symmetric)", fields[4]));

  // Comments and blank lines, then the size line.
  while (true) {
    if (!next_line(line)) throw fail(line_no + 1, "size line missing (expected \"rows columns entries\")");
    ++line_no;
    const std::string_view t = detail::io::trim(line);
    if (t.empty() || t[0] == '%') continue;
    std::string_view s[4];
    const int n = detail::io::split(t, s, 4);
    if (n != 3) throw fail(line_no, fmt::format("size line: expected 3 fields (rows columns entries), got {}", n));
    std::int64_t v[3];
    const char* names[3] = {"rows", "columns", "entries"};
    for (int i = 0; i < 3; ++i) {
      if (!detail::io::parse_int(s[i], v[i]))
        throw fail(line_no, fmt::format("size line: {} must be an integer, got {}", names[i], detail::io::quoted(s[i])));
      if (v[i] < 0) throw fail(line_no, fmt::format("size line: {} must not be negative, got {}", names[i], v[i]));
    }
    if (static_cast<long double>(v[2]) > static_cast<long double>(v[0]) * static_cast<long double>(v[1]))
      throw fail(line_no, fmt::format("size line: {} entries declared in a {} x {} matrix", v[2], v[0], v[1]));
    if (h.symmetric && v[0] != v[1])
      throw fail(line_no, fmt::format("size line: a symmetric matrix must be square, got {} x {}", v[0], v[1]));
    h.rows = v[0];
    h.cols = v[1];
    h.entries = v[2];
    break;
  }
  h.lines_before = line_no;
  h.data_begin = off - static_cast<std::int64_t>(buf.size() - b);
  return h;
}

}  // namespace

Array read_matrix_market(const std::string& path, DType dtype, NonFinite nonfinite) {
  auto& comm = detail::context_comm();
  std::unique_ptr<InputFile> file;
  Header h;
  comm.run_agreed([&] {
    file = std::make_unique<InputFile>(path, kRead);
    h = read_header(*file);
    // What the declared size costs a rank before a byte is allocated: its rows' share
    // of the row pointers, and its share of the entries as triplets and then as CSR
    // (column index and value); symmetric files store the mirrored entries too.
    const double p = comm.size();
    // Entries beyond what the file's bytes can hold (4 bytes a line at least) are never
    // stored: the count check reports them after the pass.
    const double stored = std::min(static_cast<double>(h.entries), static_cast<double>(file->size()) / 4.0);
    const double entries = stored * (h.symmetric ? 2.0 : 1.0);
    require_memory(fmt::format("{}: {}: a {} x {} matrix with {} entries", kRead, path, h.rows, h.cols, h.entries),
                   8.0 * (std::ceil(static_cast<double>(h.rows) / p) + 1.0) + (24.0 + 16.0) * entries / p);
  });

  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals;
  std::int64_t found = 0;
  std::int64_t lo = 0, hi = 0;
  detail::io::byte_range(h.data_begin, file->size(), comm.rank(), comm.size(), lo, hi);
  {
    // A rough guess of the entries in this range (about 12 bytes a line) saves regrowth.
    const auto guess = static_cast<std::size_t>(std::min<std::int64_t>((hi - lo) / 12 + 16, h.entries + 16));
    comm.run_agreed([&] {
      rows.reserve(guess);
      cols.reserve(guess);
      vals.reserve(guess);
    });
  }
  const int want = h.pattern ? 2 : 3;
  const std::int64_t nrows = h.rows, ncols = h.cols;
  const auto pass = detail::io::for_each_line(*file, h.data_begin, file->size(), lo, hi, [&](std::string_view raw, std::int64_t) {
    const std::string_view t = detail::io::trim(raw);
    if (t.empty() || t[0] == '%') return;
    std::string_view f[3];
    const int n = detail::io::split(t, f, 3);
    if (n != want) throw LineError{fmt::format("expected {} fields, got {}", want, n)};
    std::int64_t i = 0, j = 0;
    if (!detail::io::parse_int(f[0], i)) throw LineError{fmt::format("row index {} is not an integer", detail::io::quoted(f[0]))};
    if (!detail::io::parse_int(f[1], j)) throw LineError{fmt::format("column index {} is not an integer", detail::io::quoted(f[1]))};
    if (i < 1 || i > nrows) throw LineError{fmt::format("row index {} out of range [1, {}]", i, nrows)};
    if (j < 1 || j > ncols) throw LineError{fmt::format("column index {} out of range [1, {}]", j, ncols)};
    double v = 1.0;
    if (h.integer) {
      std::int64_t iv = 0;
      if (!detail::io::parse_int(f[2], iv)) throw LineError{fmt::format("non-integer value {}", detail::io::quoted(f[2]))};
      v = static_cast<double>(iv);
    } else if (!h.pattern) {
      if (!detail::io::parse_double(f[2], v)) throw LineError{fmt::format("non-numeric value {}", detail::io::quoted(f[2]))};
      if (!std::isfinite(v) && nonfinite == NonFinite::reject)
        throw LineError{fmt::format("non-finite value {} (rejected; read with io::NonFinite::accept to keep it)",
                                    detail::io::quoted(f[2]))};
    }
    ++found;
    rows.push_back(i - 1);
    cols.push_back(j - 1);
    vals.push_back(v);
    if (h.symmetric && i != j) {
      rows.push_back(j - 1);
      cols.push_back(i - 1);
      vals.push_back(v);
    }
  });
  const auto counts = detail::io::finish_pass(comm, pass, kRead, path, h.lines_before, {found});
  std::int64_t total = 0;
  for (auto c : counts) total += c;
  if (total != h.entries)
    throw io_error(fmt::format("{}: {}: the size line declares {} entries, found {}{}", kRead, path, h.entries, total,
                               total < h.entries ? " (is the file truncated?)" : ""));
  file.reset();
  detail::Triplets t;
  t.row = std::move(rows), t.col = std::move(cols), t.val = std::move(vals);
  return detail::sparse_leaf({h.rows, h.cols}, std::move(t), dtype);
}

namespace {

// Appends the lines of one tile; returns the entries written.
std::int64_t format_tile(const detail::Tile& tile, bool sparse, DType dtype, fmt::memory_buffer& out) {
  const std::int64_t r0 = tile.box.lo[0] + 1, c0 = tile.box.lo[1] + 1;
  std::int64_t written = 0;
  detail::visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto put = [&](std::int64_t i, std::int64_t j, T v) {
      if constexpr (std::is_same_v<T, std::uint8_t>)
        fmt::format_to(std::back_inserter(out), "{} {} {}\n", i, j, static_cast<int>(v));
      else
        fmt::format_to(std::back_inserter(out), "{} {} {}\n", i, j, v);
      ++written;
    };
    if (sparse) {
      const detail::CsrTile& csr = *tile.csr;
      const detail::CsrPattern& pat = *csr.pattern;
      const T* vals = csr.values.template as<T>();
      for (std::int64_t i = 0; i < csr.rows(); ++i)
        for (std::int64_t k = pat.row_ptr[i]; k < pat.row_ptr[i + 1]; ++k) put(r0 + i, c0 + pat.col[k], vals[k]);
    } else {
      const std::int64_t nr = tile.box.hi[0] - tile.box.lo[0], nc = tile.box.hi[1] - tile.box.lo[1];
      const T* vals = tile.data.template as<T>();
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t j = 0; j < nc; ++j)
          if (vals[i * nc + j] != T(0)) put(r0 + i, c0 + j, vals[i * nc + j]);
    }
  });
  return written;
}

}  // namespace

void write_matrix_market(const std::string& path, const Array& a) {
  if (a.ndim() != 2)
    throw shape_error(fmt::format("{}: {}: a 2-d array is needed, got shape {}", kWrite, path,
                                  tiling::to_string(a.shape())));
  const detail::DistArray& data = detail::data_of(a);
  auto& comm = detail::context_comm();
  const int rank = comm.rank();

  // The data split by rows: sparse arrays are; dense ones are redistributed when not.
  std::shared_ptr<const detail::DistArray> src(&data, [](const detail::DistArray*) {});  // not owned
  if (!src->is_sparse()) {
    const auto& lay = src->layout();
    if (lay.is_partial() || lay.tiles_along(1) != 1)
      src = std::make_shared<detail::DistArray>(
          detail::redistribute(*src, detail::Layout::rows(a.shape(), comm.size()), comm));
  }
  const detail::Layout& layout = src->layout();
  const int ntiles = layout.num_tiles();
  auto writer = [&](int t) { return layout.owner(t) == tiling::kReplicated ? 0 : layout.owner(t); };

  // 1. Every rank formats the tiles it writes (a replicated tile is written by rank 0).
  std::vector<int> mine;
  std::vector<fmt::memory_buffer> text;
  std::vector<std::int64_t> sizes(2 * static_cast<std::size_t>(ntiles), 0);  // bytes, then entries
  comm.run_agreed([&] {
    for (const auto& tile : src->tiles())
      if (writer(tile.id) == rank) mine.push_back(tile.id);
    text.reserve(mine.size());
    for (int id : mine) {
      text.emplace_back();
      const std::int64_t n = format_tile(*src->find(id), src->is_sparse(), src->dtype(), text.back());
      sizes[static_cast<std::size_t>(id)] = static_cast<std::int64_t>(text.back().size());
      sizes[static_cast<std::size_t>(ntiles + id)] = n;
    }
  });
  comm.allreduce(sizes.data(), sizes.size(), backend::ReduceOp::sum);
  std::int64_t nnz = 0;
  for (int t = 0; t < ntiles; ++t) nnz += sizes[static_cast<std::size_t>(ntiles + t)];
  const std::string header = fmt::format("%%MatrixMarket matrix coordinate real general\n{} {} {}\n", a.shape()[0],
                                         a.shape()[1], nnz);

  // File offsets: tiles in row order after the header.
  std::vector<int> order(static_cast<std::size_t>(ntiles));
  for (int t = 0; t < ntiles; ++t) order[t] = t;
  std::vector<tiling::Box> boxes;
  for (int t = 0; t < ntiles; ++t) boxes.push_back(layout.tile_box(t));
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) {
    return std::make_pair(boxes[x].lo[0], boxes[x].lo[1]) < std::make_pair(boxes[y].lo[0], boxes[y].lo[1]);
  });
  std::vector<std::int64_t> offset(static_cast<std::size_t>(ntiles));
  std::int64_t at = static_cast<std::int64_t>(header.size());
  for (int t : order) {
    offset[t] = at;
    at += sizes[static_cast<std::size_t>(t)];
  }

  // 2. The header, then every rank's tiles at their offsets, through a temporary file.
  std::vector<std::pair<std::int64_t, std::string_view>> pieces;
  for (std::size_t i = 0; i < mine.size(); ++i)
    pieces.emplace_back(offset[mine[i]], std::string_view(text[i].data(), text[i].size()));
  detail::io::write_pieces(comm, path, kWrite, header, pieces);
}

}  // namespace spartanxx::io

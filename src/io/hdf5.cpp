// HDF5 datasets as arrays: read_hdf5 makes a lazy leaf whose source reads each rank's
// tiles of the planned layout (and only a slice, when the graph slices it); write_hdf5
// writes every rank's tiles into one dataset. Sparse groups: hdf5_sparse.cpp.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "array/dist_array.hpp"
#include "expr/boundary.hpp"
#include "io/hdf5_file.hpp"
#include "io/hdf5_sparse.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"

namespace spartanxx {
namespace detail::io {
namespace {

constexpr const char* kRead = "read_hdf5";
constexpr const char* kWrite = "write_hdf5";

/// The pieces of `layout`'s tiles that rank `r` holds (replicated tiles: every rank, or
/// only `replicated_by` when it is >= 0), at most 1 GiB each.
std::vector<Piece> pieces_of(const Layout& layout, int r, std::size_t itemsize, const std::vector<tiling::AxisSlice>& in_file,
                             DistArray* data, int replicated_by) {
  std::vector<Piece> out;
  const auto tiles = layout.tiles_of(r);
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    if (replicated_by >= 0 && layout.owner(tiles[t]) == tiling::kReplicated && r != replicated_by) continue;
    const Box box = layout.tile_box(tiles[t]);
    Tile* tile = data ? data->find(tiles[t]) : nullptr;
    const std::int64_t row_elems = box.ndim() && box.extent(0) ? box.volume() / box.extent(0) : 0;
    for (const auto& [r0, rows] : row_runs(box, itemsize)) {
      Piece p;
      for (int a = 0; a < box.ndim(); ++a) {
        const index_t lo = box.lo[a] + (a == 0 ? r0 : 0), n = a == 0 ? rows : box.extent(a);
        const tiling::AxisSlice& s = in_file[static_cast<std::size_t>(a)];
        p.start.push_back(static_cast<hsize_t>(s.start + lo * s.step));
        p.stride.push_back(static_cast<hsize_t>(s.step));
        p.count.push_back(static_cast<hsize_t>(n));
      }
      if (tile) p.data = tile->data.data() + r0 * row_elems * static_cast<std::int64_t>(itemsize);
      out.push_back(std::move(p));
    }
  }
  return out;
}

/// The most pieces any rank has: every rank computes the same from the layout.
int rounds_of(const Layout& layout, int P, std::size_t itemsize, const std::vector<tiling::AxisSlice>& in_file,
              int replicated_by) {
  std::size_t most = 0;
  for (int r = 0; r < P; ++r) most = std::max(most, pieces_of(layout, r, itemsize, in_file, nullptr, replicated_by).size());
  return static_cast<int>(most);
}

std::vector<tiling::AxisSlice> whole(const Shape& shape) {
  std::vector<tiling::AxisSlice> s;
  for (index_t n : shape) s.push_back({0, 1, n});
  return s;
}

/// A dataset read when the graph runs: `in_file` says which elements of the stored
/// dataset the array is (a slice of it, or all).
class Hdf5Dataset : public LazySource {
 public:
  Hdf5Dataset(std::string path, std::string dataset, DType dtype, std::vector<tiling::AxisSlice> in_file)
      : path_(std::move(path)), dataset_(std::move(dataset)), dtype_(dtype), in_file_(std::move(in_file)) {}

  std::string label() const override {
    bool all = true;
    for (const auto& s : in_file_) all = all && s.start == 0 && s.step == 1;
    return fmt::format("read {}:{}{}", path_, dataset_, all ? "" : " (a slice)");
  }

  DistArray read(const Layout& layout, backend::Communicator& comm) const override {
    const Where where{kRead, path_, dataset_};
    H5Id file = open_for_read(path_, kRead, comm);
    H5Id d;
    comm.run_agreed([&] { d = H5Id(check_id(H5Dopen2(file.get(), dataset_.c_str(), H5P_DEFAULT), where, "opening"), H5Dclose); });
    DistArray out;
    comm.run_agreed([&] { out = DistArray(layout, dtype_, comm.rank()); });
    const std::size_t e = itemsize(dtype_);
    const std::vector<Piece> mine = pieces_of(layout, comm.rank(), e, in_file_, &out, -1);
    const int rounds = rounds_of(layout, comm.size(), e, in_file_, -1);
    H5Id mem = memory_type(dtype_);
    std::exception_ptr err;
    try {
      read_slabs(d.get(), mem.get(), mine, rounds, where);
    } catch (...) {
      err = std::current_exception();
    }
    comm.agree(err);
    return out;
  }

  std::shared_ptr<const LazySource> sliced(const std::vector<tiling::AxisSlice>& slices) const override {
    // HDF5 hyperslabs step forward only; a reversed slice is taken from what is read.
    std::vector<tiling::AxisSlice> in_file;
    for (std::size_t a = 0; a < slices.size(); ++a) {
      const tiling::AxisSlice& s = slices[a];
      if (s.step <= 0) return nullptr;
      const tiling::AxisSlice& f = in_file_[a];
      in_file.push_back({f.start + s.start * f.step, s.step * f.step, s.length});
    }
    return std::make_shared<Hdf5Dataset>(path_, dataset_, dtype_, std::move(in_file));
  }

 private:
  std::string path_, dataset_;
  DType dtype_;
  std::vector<tiling::AxisSlice> in_file_;
};

std::string absolute(const std::string& name) { return name.empty() || name[0] != '/' ? "/" + name : name; }

/// The dataset's creation properties from the options (value_error for bad ones).
H5Id creation_list(const Shape& shape, std::size_t itemsize, const spartanxx::io::Hdf5Options& o, const Where& where) {
  H5Id dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), where, "H5Pcreate"), H5Pclose);
  // Space is allocated at creation and never filled: every element is written.
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), where, "H5Pset_fill_time");
  if (o.gzip < 0 || o.gzip > 9)
    throw value_error(fmt::format("{}: gzip level {} is not in 0..9", where.text(), o.gzip));
  const bool filtered = o.gzip > 0 || o.shuffle;
  bool empty = shape.empty();
  for (index_t n : shape) empty = empty || n == 0;
  if (!o.chunks.empty() && o.chunks.size() != shape.size())
    throw value_error(fmt::format("{}: {} chunk extents for a {}-d array", where.text(), o.chunks.size(), shape.size()));
  for (std::int64_t c : o.chunks)
    if (c < 1) throw value_error(fmt::format("{}: chunk extents must be positive, got {}", where.text(), c));
  if ((o.chunks.empty() && !filtered) || empty) return dcpl;  // contiguous (0-d and empty arrays always are)
  std::vector<hsize_t> chunk;
  if (!o.chunks.empty()) {
    for (std::size_t a = 0; a < shape.size(); ++a)
      chunk.push_back(static_cast<hsize_t>(std::min<std::int64_t>(o.chunks[a], shape[a])));
  } else {
    // About 1 MiB: whole trailing axes, as many rows as fit.
    std::int64_t row = static_cast<std::int64_t>(itemsize);
    for (std::size_t a = 1; a < shape.size(); ++a) row *= shape[a];
    chunk.push_back(static_cast<hsize_t>(std::clamp<std::int64_t>((std::int64_t{1} << 20) / std::max<std::int64_t>(row, 1), 1, shape[0])));
    for (std::size_t a = 1; a < shape.size(); ++a) chunk.push_back(static_cast<hsize_t>(shape[a]));
  }
  check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), where, "H5Pset_chunk");
  if (o.shuffle) check(H5Pset_shuffle(dcpl.get()), where, "H5Pset_shuffle");
  if (o.gzip > 0) check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(o.gzip)), where, "H5Pset_deflate");
  return dcpl;
}

}  // namespace

H5Id create_dataset(hid_t parent, const std::string& name, DType dtype, hid_t ftype, const Shape& shape,
                    const spartanxx::io::Hdf5Options& o, const Where& where, backend::Communicator& comm) {
  H5Id dcpl, lcpl, space, d;
  comm.run_agreed([&] {
    dcpl = creation_list(shape, itemsize(dtype), o, where);
    lcpl = H5Id(check_id(H5Pcreate(H5P_LINK_CREATE), where, "H5Pcreate"), H5Pclose);
    check(H5Pset_create_intermediate_group(lcpl.get(), 1), where, "H5Pset_create_intermediate_group");
    const std::vector<hsize_t> dims(shape.begin(), shape.end());
    space = H5Id(shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                 H5Sclose);
    check(space.valid() ? 0 : -1, where, "H5Screate");
  });
  hid_t id = H5Dcreate2(parent, name.c_str(), ftype, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT);
  comm.run_agreed([&] { d = H5Id(check_id(id, where, fmt::format("creating {}", name).c_str()), H5Dclose); });
  return d;
}

void write_dense(hid_t file, const std::string& name, const DistArray& data, const spartanxx::io::Hdf5Options& o,
                 const Where& where, backend::Communicator& comm) {
  const Shape& shape = data.shape();
  const std::size_t e = itemsize(data.dtype());
  H5Id ftype = file_type(data.dtype()), mtype = memory_type(data.dtype());
  H5Id d = create_dataset(file, name, data.dtype(), ftype.get(), shape, o, where, comm);
  comm.run_agreed([&] { write_attributes(d.get(), o.attributes, where); });
  // Replicated tiles are written once, by rank 0.
  const std::vector<tiling::AxisSlice> all = whole(shape);
  const std::vector<Piece> mine = pieces_of(data.layout(), comm.rank(), e, all, const_cast<DistArray*>(&data), 0);
  const int rounds = rounds_of(data.layout(), comm.size(), e, all, 0);
  std::exception_ptr err;
  try {
    write_slabs(d.get(), mtype.get(), mine, rounds, where);
  } catch (...) {
    err = std::current_exception();
  }
  comm.agree(err);
  const herr_t closed = d.close();
  comm.run_agreed([&] { check(closed, where, "closing the dataset"); });
}

/// Opens (or creates) the file a write goes to: a new file is made under a temporary
/// name beside `path` and renamed by finish_write. Checks that `name` may be written.
struct WriteTarget {
  H5Id file;
  std::string path, tmp;  // tmp empty: written in place
};

WriteTarget begin_write(const std::string& path, const std::string& name, const spartanxx::io::Hdf5Options& o,
                        const char* op, backend::Communicator& comm) {
  WriteTarget t;
  t.path = path;
  bool present = false;
  if (o.append) comm.run_agreed([&] { present = ::access(path.c_str(), F_OK) == 0; });
  if (present) {
    t.file = open_for_write(path, /*create=*/false, op, comm);
  } else {
    std::int64_t pid = static_cast<std::int64_t>(::getpid());
    comm.broadcast(&pid, 1, 0);
    t.tmp = fmt::format("{}.tmp-{}", path, pid);
    t.file = open_for_write(t.tmp, /*create=*/true, op, comm);
  }
  const Where where{op, path, name};
  const bool taken = exists(t.file.get(), name);
  comm.run_agreed([&] {
    if (taken && !o.overwrite)
      throw io_error(fmt::format("{}: {} exists already (Hdf5Options::overwrite replaces it)", where.text(), name));
  });
  if (taken) {
    const herr_t r = H5Ldelete(t.file.get(), name.c_str(), H5P_DEFAULT);
    comm.run_agreed([&] { check(r, where, "removing the old one"); });
  }
  return t;
}

void finish_write(WriteTarget& t, const char* op, backend::Communicator& comm) {
  const herr_t closed = t.file.close();
  comm.run_agreed([&] {
    if (closed < 0) throw io_error(fmt::format("{}: cannot write {}: closing the file failed", op, t.path));
  });
  if (t.tmp.empty()) return;
  comm.run_agreed([&] {
    if (comm.rank() == 0 && std::rename(t.tmp.c_str(), t.path.c_str()) != 0)
      throw io_error(fmt::format("{}: cannot write {}: renaming {} to it failed", op, t.path, t.tmp));
  });
  t.tmp.clear();
}

/// A failed write removes its temporary file (and leaves `path` as it was).
void abandon_write(WriteTarget& t, backend::Communicator& comm) {
  t.file = H5Id();
  if (!t.tmp.empty() && comm.rank() == 0) ::unlink(t.tmp.c_str());
  comm.barrier();
}

}  // namespace detail::io

namespace io {

using detail::io::H5Id;
using detail::io::Where;

Array read_hdf5(const std::string& path, const std::string& dataset) {
  auto& comm = detail::context_comm();
  const std::string name = detail::io::absolute(dataset);
  const Where where{detail::io::kRead, path, name};
  H5Id file = detail::io::open_for_read(path, detail::io::kRead, comm);
  const bool present = detail::io::exists(file.get(), name);
  comm.run_agreed([&] {
    if (!present) throw io_error(fmt::format("{}: no dataset or group {}", where.text(), name));
  });
  if (detail::io::is_group(file.get(), name)) return detail::io::read_sparse_group(file.get(), where, comm);
  H5Id d, type;
  Shape shape;
  DType dtype = DType::f64;
  hid_t id = H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT);
  comm.run_agreed([&] {
    d = H5Id(detail::io::check_id(id, where, "opening the dataset"), H5Dclose);
    type = H5Id(detail::io::check_id(H5Dget_type(d.get()), where, "H5Dget_type"), H5Tclose);
    dtype = detail::io::dtype_of_stored(type.get(), where);
    shape = detail::io::extents_of(d.get());
  });
  return detail::lazy_leaf(shape, dtype,
                           std::make_shared<detail::io::Hdf5Dataset>(path, name, dtype, detail::io::whole(shape)));
}

void write_hdf5(const std::string& path, const std::string& dataset, const Array& a, const Hdf5Options& options) {
  auto& comm = detail::context_comm();
  const std::string name = detail::io::absolute(dataset);
  const Where where{detail::io::kWrite, path, name};
  const detail::DistArray& data = detail::data_of(a);
  detail::io::WriteTarget t = detail::io::begin_write(path, name, options, detail::io::kWrite, comm);
  try {
    if (data.is_sparse()) {
      detail::io::write_sparse_group(t.file.get(), name, data, options, where, comm);
    } else if (data.layout().is_partial()) {
      const detail::DistArray rows = detail::redistribute(data, detail::Layout::rows(data.shape(), comm.size()), comm);
      detail::io::write_dense(t.file.get(), name, rows, options, where, comm);
    } else {
      detail::io::write_dense(t.file.get(), name, data, options, where, comm);
    }
    detail::io::finish_write(t, detail::io::kWrite, comm);
  } catch (...) {
    detail::io::abandon_write(t, comm);
    throw;
  }
}

Attributes read_hdf5_attributes(const std::string& path, const std::string& object) {
  auto& comm = detail::context_comm();
  const std::string name = detail::io::absolute(object);
  const Where where{"read_hdf5_attributes", path, name};
  H5Id file = detail::io::open_for_read(path, where.op, comm);
  const bool present = detail::io::exists(file.get(), name);
  comm.run_agreed([&] {
    if (!present) throw io_error(fmt::format("{}: no dataset or group {}", where.text(), name));
  });
  hid_t id = H5Oopen(file.get(), name.c_str(), H5P_DEFAULT);
  H5Id obj;
  Attributes out;
  comm.run_agreed([&] {
    obj = H5Id(detail::io::check_id(id, where, "opening"), H5Oclose);
    out = detail::io::read_attributes(obj.get(), where);
  });
  return out;
}

void write_hdf5_attributes(const std::string& path, const std::string& object, const Attributes& attributes) {
  auto& comm = detail::context_comm();
  const std::string name = detail::io::absolute(object);
  const Where where{"write_hdf5_attributes", path, name};
  H5Id file = detail::io::open_for_write(path, /*create=*/false, where.op, comm);
  const bool present = detail::io::exists(file.get(), name);
  comm.run_agreed([&] {
    if (!present) throw io_error(fmt::format("{}: no dataset or group {}", where.text(), name));
  });
  hid_t id = H5Oopen(file.get(), name.c_str(), H5P_DEFAULT);
  H5Id obj;
  comm.run_agreed([&] { obj = H5Id(detail::io::check_id(id, where, "opening"), H5Oclose); });
  comm.run_agreed([&] { detail::io::write_attributes(obj.get(), attributes, where); });
  obj = H5Id();
  const herr_t closed = file.close();
  comm.run_agreed([&] { detail::io::check(closed, where, "closing the file"); });
}

}  // namespace io
}  // namespace spartanxx

#pragma once
// Parallel HDF5 underneath the readers and writers: handles that close themselves, files
// opened by every rank with MPI-IO (collective metadata, collective transfers), the map
// between HDF5 types and spartanxx dtypes, attributes, and the lock-step transfer of
// each rank's boxes. Every function here is collective unless it says otherwise: all
// ranks call it with the same arguments, in the same order.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spartanxx/dtype.hpp"
#include "spartanxx/io.hpp"
#include "tiling/box.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail::io {

using spartanxx::io::Attributes;

/// An HDF5 identifier closed by the matching H5?close when it goes.
class H5Id {
 public:
  H5Id() = default;
  H5Id(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~H5Id() { reset(); }
  H5Id(H5Id&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  H5Id& operator=(H5Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_, close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now, reporting a failure (a file's close is where its last writes land).
  herr_t close() {
    herr_t r = 0;
    if (id_ >= 0 && close_) r = close_(id_);
    id_ = -1;
    return r;
  }

 private:
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

/// What the errors say: "read_hdf5: data.h5:/x".
struct Where {
  const char* op;
  std::string path;
  std::string object;
  std::string text() const { return std::string(op) + ": " + path + ":" + object; }
};

/// The file opened for reading by every rank (io_error on every rank when it is missing
/// or not HDF5).
H5Id open_for_read(const std::string& path, const char* op, backend::Communicator& comm);
/// The file opened for writing: created (truncating) when `create`, else opened read-write.
/// `checksummed`: the file format of HDF5 1.8 and later, whose metadata blocks carry
/// checksums that HDF5 verifies on reading (readable by HDF5 >= 1.8, h5py included).
/// `userblock`: bytes at the start of a created file that HDF5 leaves to the application
/// (0, or a power of two >= 512).
H5Id open_for_write(const std::string& path, bool create, const char* op, backend::Communicator& comm,
                    bool checksummed = false, hsize_t userblock = 0);

/// A transfer property list for collective MPI-IO reads and writes.
H5Id collective_transfer();

/// Whether `name` is a link in `file` (each group on the way must exist).
bool exists(hid_t file, const std::string& name);
/// Whether `name` is a group (false: a dataset or anything else).
bool is_group(hid_t file, const std::string& name);

/// The dtype spartanxx reads a stored type as: floats of 4 and 8 bytes, signed integers
/// of 4 and 8 bytes, narrower integers widened to int32 and unsigned 32-bit ones to
/// int64, h5py's boolean enum (int8 FALSE/TRUE) as bool; dtype_error naming the
/// dataset for anything else.
DType dtype_of_stored(hid_t type, const Where& where);
/// The type of `dtype` in memory (a new enum for bool) and as written to files
/// (little-endian, h5py's boolean enum).
H5Id memory_type(DType dtype);
H5Id file_type(DType dtype);

/// The extents of a dataset (empty for a scalar dataset).
Shape extents_of(hid_t dataset);

/// A piece of one rank's transfer: a box of the dataset (in the dataset's own indices,
/// start/stride per axis) and the buffer it goes to or comes from.
struct Piece {
  std::vector<hsize_t> start, stride, count;  // in the dataset; empty for a scalar dataset
  void* data = nullptr;                       // count's C-order elements
};

/// Reads (or writes) every rank's pieces with collective transfers: the ranks go in
/// lock step, `rounds` calls each (a rank with fewer pieces joins with an empty
/// selection). `rounds` must be the same on every rank.
void read_slabs(hid_t dataset, hid_t mem_type, const std::vector<Piece>& pieces, int rounds, const Where& where);
void write_slabs(hid_t dataset, hid_t mem_type, const std::vector<Piece>& pieces, int rounds, const Where& where);

/// A box split along axis 0 into pieces of at most `max_bytes` (HDF5's MPI-IO transfers
/// stay below 2 GiB a call), as (first row, rows) pairs.
std::vector<std::pair<std::int64_t, std::int64_t>> row_runs(const tiling::Box& box, std::size_t itemsize,
                                                            std::int64_t max_bytes = std::int64_t{1} << 30);

/// Attributes of an object (a group or dataset).
void write_attributes(hid_t object, const Attributes& attributes, const Where& where);
Attributes read_attributes(hid_t object, const Where& where);

/// Throws io_error "where: what" when `status` is negative.
void check(herr_t status, const Where& where, const char* what);
hid_t check_id(hid_t id, const Where& where, const char* what);

}  // namespace spartanxx::detail::io

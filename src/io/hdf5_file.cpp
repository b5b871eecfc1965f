#include "io/hdf5_file.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"

namespace spartanxx::detail::io {
namespace {

/// HDF5 prints its error stack to stderr by default; spartanxx raises its own errors.
void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

H5Id access_list(backend::Communicator& comm, const Where& where) {
  H5Id fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), where, "H5Pcreate"), H5Pclose);
  check(H5Pset_fapl_mpio(fapl.get(), comm.native(), MPI_INFO_NULL), where, "H5Pset_fapl_mpio");
  // Metadata read once and shared, written collectively: no rank reads it alone.
  check(H5Pset_all_coll_metadata_ops(fapl.get(), true), where, "H5Pset_all_coll_metadata_ops");
  check(H5Pset_coll_metadata_write(fapl.get(), true), where, "H5Pset_coll_metadata_write");
  return fapl;
}

}  // namespace

void check(herr_t status, const Where& where, const char* what) {
  if (status < 0) throw io_error(fmt::format("{}: {} failed", where.text(), what));
}

hid_t check_id(hid_t id, const Where& where, const char* what) {
  if (id < 0) throw io_error(fmt::format("{}: {} failed", where.text(), what));
  return id;
}

H5Id open_for_read(const std::string& path, const char* op, backend::Communicator& comm) {
  silence_hdf5();
  const Where where{op, path, ""};
  // A missing file or one that is not HDF5 is the same answer on every rank; agreeing on
  // it first keeps every rank out of a collective open that some would not join.
  comm.run_agreed([&] {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw io_error(fmt::format("{}: cannot open {}: {}", op, path, std::strerror(errno)));
    if (H5Fis_hdf5(path.c_str()) <= 0) throw io_error(fmt::format("{}: {} is not an HDF5 file", op, path));
  });
  H5Id fapl = access_list(comm, where);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  comm.run_agreed([&] {
    if (f < 0) throw io_error(fmt::format("{}: cannot open {} as HDF5 (damaged or truncated?)", op, path));
  });
  return H5Id(f, H5Fclose);
}

H5Id open_for_write(const std::string& path, bool create, const char* op, backend::Communicator& comm,
                    bool checksummed, hsize_t userblock) {
  silence_hdf5();
  const Where where{op, path, ""};
  H5Id fapl = access_list(comm, where);
  if (checksummed) check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), where, "H5Pset_libver_bounds");
  H5Id fcpl(check_id(H5Pcreate(H5P_FILE_CREATE), where, "H5Pcreate"), H5Pclose);
  if (userblock > 0) check(H5Pset_userblock(fcpl.get(), userblock), where, "H5Pset_userblock");
  hid_t f = create ? H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get())
                   : H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
  comm.run_agreed([&] {
    if (f < 0) throw io_error(fmt::format("{}: cannot {} {} for writing", op, create ? "create" : "open", path));
  });
  return H5Id(f, H5Fclose);
}

H5Id collective_transfer() {
  H5Id dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (dxpl.valid()) H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE);
  return dxpl;
}

bool exists(hid_t file, const std::string& name) {
  if (name.empty() || name == "/") return true;
  // Each prefix in turn: H5Lexists fails, rather than answers, when a group on the way is missing.
  std::size_t at = name[0] == '/' ? 1 : 0;
  while (true) {
    const std::size_t slash = name.find('/', at);
    const std::string prefix = name.substr(0, slash);
    if (!prefix.empty() && prefix != "/" && H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    at = slash + 1;
  }
}

bool is_group(hid_t file, const std::string& name) {
  H5O_info_t info;
  if (H5Oget_info_by_name(file, name.c_str(), &info, H5P_DEFAULT) < 0) return false;
  return info.type == H5O_TYPE_GROUP;
}

namespace {

bool is_h5py_bool(hid_t type) {
  if (H5Tget_class(type) != H5T_ENUM || H5Tget_nmembers(type) != 2) return false;
  H5Id base(H5Tget_super(type), H5Tclose);
  if (!base.valid() || H5Tget_size(base.get()) != 1) return false;
  for (unsigned i = 0; i < 2; ++i) {
    char* name = H5Tget_member_name(type, i);
    if (!name) return false;
    const std::string n(name);
    H5free_memory(name);
    signed char v = -1;
    if (H5Tget_member_value(type, i, &v) < 0) return false;
    if (!((n == "FALSE" && v == 0) || (n == "TRUE" && v == 1))) return false;
  }
  return true;
}

std::string type_text(hid_t type) {
  const std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: return fmt::format("{}int{}", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size);
    case H5T_FLOAT: return fmt::format("float{}", 8 * size);
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    default: return "an HDF5 type class spartanxx does not read";
  }
}

}  // namespace

DType dtype_of_stored(hid_t type, const Where& where) {
  const std::size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      if (size == 8) return DType::f64;
      if (size == 4) return DType::f32;
      break;
    case H5T_INTEGER:
      if (H5Tget_sign(type) != H5T_SGN_NONE) {
        if (size == 8) return DType::i64;
        if (size <= 4) return DType::i32;
      } else {
        if (size <= 2) return DType::i32;
        if (size == 4) return DType::i64;
      }
      break;
    case H5T_ENUM:
      if (is_h5py_bool(type)) return DType::boolean;
      break;
    default: break;
  }
  throw dtype_error(fmt::format("{}: the dataset's type {} has no spartanxx dtype (float64, float32, int64, int32, "
                                "bool; narrower integers widen)",
                                where.text(), type_text(type)));
}

namespace {

H5Id bool_enum() {
  H5Id t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  signed char no = 0, yes = 1;
  H5Tenum_insert(t.get(), "FALSE", &no);
  H5Tenum_insert(t.get(), "TRUE", &yes);
  return t;
}

}  // namespace

H5Id memory_type(DType dtype) {
  switch (dtype) {
    case DType::f64: return H5Id(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    case DType::f32: return H5Id(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    case DType::i64: return H5Id(H5Tcopy(H5T_NATIVE_INT64), H5Tclose);
    case DType::i32: return H5Id(H5Tcopy(H5T_NATIVE_INT32), H5Tclose);
    case DType::boolean: return bool_enum();
  }
  return H5Id();
}

H5Id file_type(DType dtype) {
  switch (dtype) {
    case DType::f64: return H5Id(H5Tcopy(H5T_IEEE_F64LE), H5Tclose);
    case DType::f32: return H5Id(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
    case DType::i64: return H5Id(H5Tcopy(H5T_STD_I64LE), H5Tclose);
    case DType::i32: return H5Id(H5Tcopy(H5T_STD_I32LE), H5Tclose);
    case DType::boolean: return bool_enum();
  }
  return H5Id();
}

Shape extents_of(hid_t dataset) {
  H5Id space(H5Dget_space(dataset), H5Sclose);
  const int nd = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(nd, 0)));
  if (nd > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return Shape(dims.begin(), dims.end());
}

std::vector<std::pair<std::int64_t, std::int64_t>> row_runs(const tiling::Box& box, std::size_t itemsize,
                                                            std::int64_t max_bytes) {
  std::vector<std::pair<std::int64_t, std::int64_t>> runs;
  if (box.ndim() == 0) return {{0, 1}};
  const std::int64_t rows = box.extent(0);
  if (rows == 0 || box.volume() == 0) return runs;
  const std::int64_t row_bytes = box.volume() / rows * static_cast<std::int64_t>(itemsize);
  const std::int64_t per = std::max<std::int64_t>(1, max_bytes / std::max<std::int64_t>(row_bytes, 1));
  for (std::int64_t r = 0; r < rows; r += per) runs.emplace_back(r, std::min(per, rows - r));
  return runs;
}

namespace {

/// One lock-step round: this rank's piece, or an empty selection.
template <class Transfer>
void slabs(hid_t dataset, hid_t mem_type, const std::vector<Piece>& pieces, int rounds, const Where& where,
           const char* what, Transfer&& transfer) {
  H5Id dxpl = collective_transfer();
  check(dxpl.valid() ? 0 : -1, where, "H5Pcreate(H5P_DATASET_XFER)");
  H5Id fspace(check_id(H5Dget_space(dataset), where, "H5Dget_space"), H5Sclose);
  const bool scalar = H5Sget_simple_extent_type(fspace.get()) == H5S_SCALAR;
  herr_t failed = 0;
  for (int round = 0; round < rounds; ++round) {
    H5Id mspace;
    void* data = nullptr;
    const bool mine = round < static_cast<int>(pieces.size());
    if (mine && scalar) {
      H5Sselect_all(fspace.get());
      mspace = H5Id(H5Screate(H5S_SCALAR), H5Sclose);
      data = pieces[round].data;
    } else if (mine) {
      const Piece& p = pieces[round];
      H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, p.start.data(), p.stride.data(), p.count.data(), nullptr);
      mspace = H5Id(H5Screate_simple(static_cast<int>(p.count.size()), p.count.data(), nullptr), H5Sclose);
      data = p.data;
    } else {
      // Nothing of this rank's in this round: an empty selection on both sides.
      H5Sselect_none(fspace.get());
      const hsize_t one = 1;
      mspace = H5Id(H5Screate_simple(1, &one, nullptr), H5Sclose);
      H5Sselect_none(mspace.get());
      static char unused;
      data = &unused;
    }
    // Every rank makes every call; a failure is reported after the last.
    if (transfer(dataset, mem_type, mspace.get(), fspace.get(), dxpl.get(), data) < 0) failed = -1;
  }
  check(failed, where, what);
}

}  // namespace

void read_slabs(hid_t dataset, hid_t mem_type, const std::vector<Piece>& pieces, int rounds, const Where& where) {
  slabs(dataset, mem_type, pieces, rounds, where, "reading (H5Dread)",
        [](hid_t d, hid_t t, hid_t m, hid_t f, hid_t x, void* b) { return H5Dread(d, t, m, f, x, b); });
}

void write_slabs(hid_t dataset, hid_t mem_type, const std::vector<Piece>& pieces, int rounds, const Where& where) {
  slabs(dataset, mem_type, pieces, rounds, where, "writing (H5Dwrite)",
        [](hid_t d, hid_t t, hid_t m, hid_t f, hid_t x, void* b) { return H5Dwrite(d, t, m, f, x, b); });
}

void write_attributes(hid_t object, const Attributes& attributes, const Where& where) {
  for (const auto& [name, value] : attributes) {
    if (H5Aexists(object, name.c_str()) > 0) check(H5Adelete(object, name.c_str()), where, "replacing an attribute");
    H5Id type, space;
    const void* data = nullptr;
    std::string text;
    if (const auto* s = std::get_if<std::string>(&value)) {
      // A variable-length UTF-8 string, as h5py writes str attributes.
      type = H5Id(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type.get(), H5T_VARIABLE);
      H5Tset_cset(type.get(), H5T_CSET_UTF8);
      space = H5Id(H5Screate(H5S_SCALAR), H5Sclose);
      text = *s;
    } else if (std::holds_alternative<std::int64_t>(value) || std::holds_alternative<double>(value)) {
      type = H5Id(H5Tcopy(std::holds_alternative<double>(value) ? H5T_IEEE_F64LE : H5T_STD_I64LE), H5Tclose);
      space = H5Id(H5Screate(H5S_SCALAR), H5Sclose);
    } else {
      const bool ints = std::holds_alternative<std::vector<std::int64_t>>(value);
      const hsize_t n = ints ? std::get<std::vector<std::int64_t>>(value).size() : std::get<std::vector<double>>(value).size();
      type = H5Id(H5Tcopy(ints ? H5T_STD_I64LE : H5T_IEEE_F64LE), H5Tclose);
      space = H5Id(H5Screate_simple(1, &n, nullptr), H5Sclose);
    }
    H5Id attr(check_id(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), where,
                       "creating an attribute"),
              H5Aclose);
    herr_t r = 0;
    if (std::holds_alternative<std::string>(value)) {
      const char* p = text.c_str();
      H5Id mem(H5Tcopy(type.get()), H5Tclose);
      r = H5Awrite(attr.get(), mem.get(), &p);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
      r = H5Awrite(attr.get(), H5T_NATIVE_INT64, i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      r = H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, d);
    } else if (const auto* vi = std::get_if<std::vector<std::int64_t>>(&value)) {
      data = vi->data();
      r = vi->empty() ? 0 : H5Awrite(attr.get(), H5T_NATIVE_INT64, data);
    } else if (const auto* vd = std::get_if<std::vector<double>>(&value)) {
      data = vd->data();
      r = vd->empty() ? 0 : H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, data);
    }
    check(r, where, fmt::format("writing attribute {}", name).c_str());
  }
}

namespace {

struct AttributeReader {
  Where where;
  Attributes out;
};

herr_t read_one(hid_t object, const char* name, const H5A_info_t*, void* op_data) {
  auto& reader = *static_cast<AttributeReader*>(op_data);
  H5Id attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  if (!attr.valid()) return -1;
  H5Id type(H5Aget_type(attr.get()), H5Tclose);
  H5Id space(H5Aget_space(attr.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  const bool scalar = H5Sget_simple_extent_type(space.get()) == H5S_SCALAR;
  switch (H5Tget_class(type.get())) {
    case H5T_STRING: {
      if (H5Tis_variable_str(type.get()) > 0) {
        char* p = nullptr;
        H5Id mem(H5Tcopy(type.get()), H5Tclose);
        if (H5Aread(attr.get(), mem.get(), &p) < 0) return -1;
        reader.out[name] = std::string(p ? p : "");
        H5free_memory(p);
      } else {
        const std::size_t size = H5Tget_size(type.get());
        std::string s(size * static_cast<std::size_t>(std::max<hssize_t>(n, 1)), '\0');
        if (H5Aread(attr.get(), type.get(), s.data()) < 0) return -1;
        s.resize(std::strlen(s.c_str()));
        reader.out[name] = s;
      }
      return 0;
    }
    case H5T_INTEGER: case H5T_ENUM: {
      std::vector<std::int64_t> v(static_cast<std::size_t>(n));
      if (n > 0 && H5Aread(attr.get(), H5T_NATIVE_INT64, v.data()) < 0) return -1;
      if (scalar) reader.out[name] = v.at(0);
      else reader.out[name] = v;
      return 0;
    }
    case H5T_FLOAT: {
      std::vector<double> v(static_cast<std::size_t>(n));
      if (n > 0 && H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) return -1;
      if (scalar) reader.out[name] = v.at(0);
      else reader.out[name] = v;
      return 0;
    }
    default: return 0;  // other attributes (compound, references) are not spartanxx's to read
  }
}

}  // namespace

Attributes read_attributes(hid_t object, const Where& where) {
  AttributeReader reader{where, {}};
  hsize_t at = 0;
  check(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &at, read_one, &reader), where, "reading attributes");
  return std::move(reader.out);
}

}  // namespace spartanxx::detail::io

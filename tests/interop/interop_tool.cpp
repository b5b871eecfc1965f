// HDF5 interchange between spartanxx and h5py/NumPy/SciPy, the spartanxx half (run under
// mpirun at any rank count):
//
//   interop_tool read DIR        reads every dataset and sparse group that h5py wrote
//                                (DIR/manifest.txt, DIR/from_h5py.h5) and compares it
//                                with the raw little-endian bytes NumPy wrote beside it,
//                                whole and as row and column slices.
//   interop_tool write FILE      writes arrays given by formulas (every dtype, awkward
//                                shapes, contiguous, chunked, gzip + shuffle, attributes,
//                                CSR groups with int64 and int32 indices), for
//                                h5py_interop.py check and for `verify`.
//   interop_tool verify FILE     reads FILE (written at any rank count) and checks the
//                                formulas.
//   interop_tool fashion H5 DIR  reads the Fashion-MNIST HDF5 file made by
//                                scripts/fashion_mnist_to_hdf5.py and compares it with
//                                the gzip'd idx files in DIR, decoded here with zlib.
//
// Exit status 0 when everything matched; mismatches are printed by rank 0.
#include <fmt/format.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "spartanxx/io.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
using sx::DType;
using sx::Shape;

namespace {

int g_rank = 0;
std::vector<std::string> g_errors;

void fail(const std::string& what) { g_errors.push_back(what); }

std::int64_t volume(const Shape& s) {
  std::int64_t v = 1;
  for (auto n : s) v *= n;
  return v;
}

std::string shape_text(const Shape& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

DType dtype_named(const std::string& name) {
  for (DType t : {DType::f64, DType::f32, DType::i64, DType::i32, DType::boolean})
    if (name == sx::dtype_name(t)) return t;
  throw std::runtime_error("unknown dtype " + name);
}

/// The elements of `a` as bytes of its dtype, in C order (every rank has them all).
std::vector<unsigned char> bytes_of(const sx::Array& a) {
  auto pack = [](const auto& v) {
    std::vector<unsigned char> b(v.size() * sizeof(v[0]));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
  };
  switch (a.dtype()) {
    case DType::f64: return pack(sx::to_vector<double>(a));
    case DType::f32: return pack(sx::to_vector<float>(a));
    case DType::i64: return pack(sx::to_vector<std::int64_t>(a));
    case DType::i32: return pack(sx::to_vector<std::int32_t>(a));
    case DType::boolean: return pack(sx::to_vector<std::uint8_t>(a));
  }
  return {};
}

std::vector<unsigned char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

/// Rows [r0, r1) step rs and columns [c0, c1) step cs of a C-order 2-d byte array.
std::vector<unsigned char> sub_block(const std::vector<unsigned char>& all, const Shape& shape, std::size_t item,
                                     std::int64_t r0, std::int64_t r1, std::int64_t rs, std::int64_t c0,
                                     std::int64_t c1, std::int64_t cs) {
  std::vector<unsigned char> out;
  for (std::int64_t r = r0; r < r1; r += rs)
    for (std::int64_t c = c0; c < c1; c += cs) {
      const auto at = static_cast<std::size_t>(r * shape[1] + c) * item;
      out.insert(out.end(), all.begin() + static_cast<std::ptrdiff_t>(at),
                 all.begin() + static_cast<std::ptrdiff_t>(at + item));
    }
  return out;
}

void compare(const std::string& what, const sx::Array& got, DType dtype, const Shape& shape,
             const std::vector<unsigned char>& want) {
  if (got.shape() != shape) return fail(fmt::format("{}: shape {}, expected {}", what, shape_text(got.shape()), shape_text(shape)));
  if (got.dtype() != dtype)
    return fail(fmt::format("{}: dtype {}, expected {}", what, sx::dtype_name(got.dtype()), sx::dtype_name(dtype)));
  const auto bytes = bytes_of(got);
  if (bytes.size() != want.size())
    return fail(fmt::format("{}: {} bytes, expected {}", what, bytes.size(), want.size()));
  const std::size_t item = sx::itemsize(dtype);
  for (std::size_t i = 0; i < bytes.size(); i += item)
    if (std::memcmp(&bytes[i], &want[i], item) != 0) return fail(fmt::format("{}: element {} differs", what, i / item));
}

// ---- read: what h5py wrote ----

int read_h5py_files(const std::string& dir) {
  const std::string file = dir + "/from_h5py.h5";
  std::ifstream manifest(dir + "/manifest.txt");
  if (!manifest) throw std::runtime_error("cannot open " + dir + "/manifest.txt");
  std::string line;
  int entries = 0;
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    std::istringstream words(line);
    std::string name, kind, dtype_text, shape_csv, raw;
    words >> name >> kind >> dtype_text >> shape_csv >> raw;
    Shape shape;
    if (shape_csv != "-") {
      std::istringstream s(shape_csv);
      for (std::string n; std::getline(s, n, ',');) shape.push_back(std::stoll(n));
    }
    const DType dtype = dtype_named(dtype_text);
    const auto want = read_file(dir + "/" + raw);
    ++entries;
    auto a = sx::io::read_hdf5(file, name);
    if (kind == "sparse") {
      if (!a.is_sparse()) fail(name + ": not read as a sparse array");
      compare(name + " (sparse, as dense)", sx::todense(a), dtype, shape, want);
      if (shape.size() == 2 && shape[0] >= 3) {
        const std::int64_t r0 = 1, r1 = shape[0] - 1;
        compare(name + "[1:-1]", sx::todense(a.slice({sx::Range{r0, r1}})), dtype, {r1 - r0, shape[1]},
                sub_block(want, shape, sx::itemsize(dtype), r0, r1, 1, 0, shape[1], 1));
      }
      continue;
    }
    compare(name, a, dtype, shape, want);
    // Partial reads: rows 1:-1:2 of every column, and columns 1::3 of every row.
    if (shape.size() == 2 && shape[0] >= 3 && shape[1] >= 2) {
      const std::size_t item = sx::itemsize(dtype);
      const std::int64_t r1 = shape[0] - 1;
      const Shape rows_shape{(r1 - 1 + 1) / 2, shape[1]};
      compare(name + "[1:-1:2]", a.slice({sx::Range{1, r1, 2}}), dtype, rows_shape,
              sub_block(want, shape, item, 1, r1, 2, 0, shape[1], 1));
      const Shape cols_shape{shape[0], (shape[1] - 1 + 2) / 3};
      compare(name + "[:, 1::3]", a.slice({sx::Range::all(), sx::Range{1, std::nullopt, 3}}), dtype, cols_shape,
              sub_block(want, shape, item, 0, shape[0], 1, 1, shape[1], 3));
    }
  }
  if (g_rank == 0)
    std::cout << fmt::format("read {} datasets and groups that h5py wrote, at {} ranks\n", entries, sx::Runtime::current().size());
  return entries;
}

// ---- write / verify: the formulas of h5py_interop.py ----

double formula_value(DType t, std::int64_t i) {
  switch (t) {
    case DType::f64: return static_cast<double>((i * 7919) % 1000 - 500) / 7.0;
    case DType::f32: return static_cast<float>(static_cast<double>((i * 7919) % 1000 - 500) / 7.0);
    case DType::i64: return 0;  // see formula_bytes
    case DType::i32: return static_cast<double>(i * 7919 % 100000 - 50000);
    case DType::boolean: return i % 3 == 0 ? 1 : 0;
  }
  return 0;
}

std::vector<unsigned char> formula_bytes(DType t, const Shape& shape) {
  const std::int64_t n = volume(shape);
  std::vector<unsigned char> out(static_cast<std::size_t>(n) * sx::itemsize(t));
  for (std::int64_t i = 0; i < n; ++i) {
    unsigned char* at = out.data() + static_cast<std::size_t>(i) * sx::itemsize(t);
    switch (t) {
      case DType::f64: {
        const double v = formula_value(t, i);
        std::memcpy(at, &v, 8);
        break;
      }
      case DType::f32: {
        const auto v = static_cast<float>(formula_value(t, i));
        std::memcpy(at, &v, 4);
        break;
      }
      case DType::i64: {
        const std::int64_t v = i * 1000003 - (std::int64_t{1} << 40);
        std::memcpy(at, &v, 8);
        break;
      }
      case DType::i32: {
        const auto v = static_cast<std::int32_t>(formula_value(t, i));
        std::memcpy(at, &v, 4);
        break;
      }
      case DType::boolean: *at = static_cast<unsigned char>(formula_value(t, i)); break;
    }
  }
  return out;
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {{}, {0}, {1}, {2, 3}, {13, 7}, {0, 4}, {5, 4, 3}, {1031}, {3, 1}};
  return s;
}
const std::vector<DType> kDtypes = {DType::f64, DType::f32, DType::i64, DType::i32, DType::boolean};

std::string shape_name(const Shape& s) {
  std::string t;
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? "x" : "") + std::to_string(s[i]);
  return t.empty() ? "scalar" : t;
}

sx::Array formula_sparse(std::int64_t n, std::int64_t m) {
  // Each rank contributes the rows i with i % P == rank: triplets from everywhere.
  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals;
  for (std::int64_t i = sx::Runtime::current().rank(); i < n; i += sx::Runtime::current().size())
    for (std::int64_t j = 0; j < m; ++j)
      if ((3 * i + 5 * j) % 11 == 0 && i % 7 != 3) {
        rows.push_back(i);
        cols.push_back(j);
        vals.push_back((static_cast<double>(i) - 2.0 * static_cast<double>(j) + 0.5) / 3.0);
      }
  return sx::sparse_from_triplets({n, m}, rows, cols, vals);
}

void write_formulas(const std::string& file) {
  bool first = true;
  auto options = [&first](sx::io::Hdf5Options o = {}) {
    o.append = !first;
    first = false;
    return o;
  };
  for (DType t : kDtypes)
    for (const auto& shape : shapes()) {
      const auto bytes = formula_bytes(t, shape);
      const auto a = sx::from_buffer(shape, t, bytes.data());
      const std::string base = fmt::format("/dense/{}/{}/", sx::dtype_name(t), shape_name(shape));
      sx::io::write_hdf5(file, base + "contiguous", a, options());
      sx::io::Hdf5Options z;
      z.gzip = 6;
      z.shuffle = true;
      if (t == DType::f64 && shape == Shape{13, 7})
        z.attributes = {{"units", std::string("metres")}, {"scale", 0.25}, {"count", std::int64_t{42}}};
      sx::io::write_hdf5(file, base + "gzip", a, options(z));
    }
  sx::io::Hdf5Options c;
  c.chunks = {4, 3};
  const auto bytes = formula_bytes(DType::f64, {13, 7});
  // A lazy expression, not a leaf: the tiles written are those of the computed result.
  sx::io::write_hdf5(file, "/dense/float64/chunked_4x3", sx::from_buffer({13, 7}, DType::f64, bytes.data()) * 1.0,
                     options(c));
  const auto s = formula_sparse(211, 97);
  sx::io::write_hdf5(file, "/sparse/csr64", s, options());
  sx::io::Hdf5Options i32;
  i32.index32 = true;
  sx::io::write_hdf5(file, "/sparse/csr32", s, options(i32));
  sx::io::write_hdf5(file, "/group/with/attributes/x", sx::arange(5), options());
  sx::io::write_hdf5_attributes(file, "/group/with/attributes", {{"note", std::string("written by spartanxx")}});
  if (g_rank == 0) std::cout << fmt::format("wrote {} at {} ranks\n", file, sx::Runtime::current().size());
}

void verify_formulas(const std::string& file) {
  int n = 0;
  for (DType t : kDtypes)
    for (const auto& shape : shapes())
      for (const char* layout : {"contiguous", "gzip"}) {
        const std::string name = fmt::format("/dense/{}/{}/{}", sx::dtype_name(t), shape_name(shape), layout);
        compare(name, sx::io::read_hdf5(file, name), t, shape, formula_bytes(t, shape));
        ++n;
      }
  compare("/dense/float64/chunked_4x3", sx::io::read_hdf5(file, "/dense/float64/chunked_4x3"), DType::f64, {13, 7},
          formula_bytes(DType::f64, {13, 7}));
  const auto want = sx::to_vector<double>(sx::todense(formula_sparse(211, 97)));
  std::vector<unsigned char> want_bytes(want.size() * 8);
  std::memcpy(want_bytes.data(), want.data(), want_bytes.size());
  for (const char* name : {"/sparse/csr64", "/sparse/csr32"}) {
    const auto a = sx::io::read_hdf5(file, name);
    if (!a.is_sparse()) fail(std::string(name) + ": not sparse");
    compare(name, sx::todense(a), DType::f64, {211, 97}, want_bytes);
    n += 1;
  }
  const auto attrs = sx::io::read_hdf5_attributes(file, "/dense/float64/13x7/gzip");
  auto it = attrs.find("units");
  if (it == attrs.end() || std::get_if<std::string>(&it->second) == nullptr ||
      std::get<std::string>(it->second) != "metres")
    fail("attribute units missing or wrong");
  if (g_rank == 0)
    std::cout << fmt::format("verified {} datasets and groups of {} at {} ranks\n", n + 1, file, sx::Runtime::current().size());
}

// ---- fashion: the Fashion-MNIST file against its idx source ----

std::vector<unsigned char> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int got = 0;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + got);
  const bool bad = got < 0;
  gzclose(f);
  if (bad) throw std::runtime_error("corrupt gzip data in " + path);
  return out;
}

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

/// An idx file's dimensions and its uint8 elements widened to int32 (spartanxx's dtype
/// for uint8 datasets).
std::vector<unsigned char> idx_as_int32(const std::string& path, Shape& shape) {
  const auto raw = gunzip(path);
  if (raw.size() < 4 || raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08)
    throw std::runtime_error(path + ": not an idx file of unsigned bytes");
  const int dims = raw[3];
  shape.clear();
  std::size_t at = 4;
  for (int d = 0; d < dims; ++d, at += 4) shape.push_back(big_endian_u32(&raw[at]));
  const auto n = static_cast<std::size_t>(volume(shape));
  if (raw.size() != at + n) throw std::runtime_error(path + ": size does not match its header");
  std::vector<unsigned char> out(n * 4);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int32_t v = raw[at + i];
    std::memcpy(&out[i * 4], &v, 4);
  }
  return out;
}

void check_fashion(const std::string& h5, const std::string& dir) {
  for (const char* part : {"train", "t10k"}) {
    const std::string group = std::string("/") + (std::string(part) == "train" ? "train" : "test");
    Shape images_shape, labels_shape;
    const auto images = idx_as_int32(dir + "/" + part + "-images-idx3-ubyte.gz", images_shape);
    const auto labels = idx_as_int32(dir + "/" + part + "-labels-idx1-ubyte.gz", labels_shape);
    auto x = sx::io::read_hdf5(h5, group + "/images");
    compare(h5 + ":" + group + "/images", x, DType::i32, images_shape, images);
    compare(h5 + ":" + group + "/labels", sx::io::read_hdf5(h5, group + "/labels"), DType::i32, labels_shape, labels);
    // A slice of images read lazily (only those chunks): images 1000:1500, as the idx bytes.
    const std::int64_t pixels = images_shape[1] * images_shape[2];
    std::vector<unsigned char> part_bytes(images.begin() + 1000 * pixels * 4, images.begin() + 1500 * pixels * 4);
    compare(h5 + ":" + group + "/images[1000:1500]", x.slice({sx::Range{1000, 1500}}), DType::i32,
            {500, images_shape[1], images_shape[2]}, part_bytes);
    // The README's use: images as rows of 784 scaled pixels; their column means.
    const std::int64_t n = images_shape[0];
    const auto X = x.reshape({n, pixels}).astype(DType::f64) / 255.0;
    const auto means = sx::to_vector<double>(sx::mean(X, 0));
    for (std::int64_t j = 0; j < pixels; ++j) {
      double s = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        std::int32_t v = 0;
        std::memcpy(&v, &images[static_cast<std::size_t>((i * pixels + j) * 4)], 4);
        s += v / 255.0;
      }
      if (std::abs(means[static_cast<std::size_t>(j)] - s / static_cast<double>(n)) > 1e-12)
        fail(fmt::format("{}: mean of pixel {}: {}, expected {}", group, j, means[static_cast<std::size_t>(j)],
                         s / static_cast<double>(n)));
    }
    if (g_rank == 0)
      std::cout << fmt::format("{}: {} images {} and labels equal the idx files at {} ranks\n", group,
                               images_shape[0], shape_text(images_shape), sx::Runtime::current().size());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sx::Runtime rt(argc, argv);
  g_rank = rt.rank();
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "read" && argc == 3) {
      read_h5py_files(argv[2]);
    } else if (mode == "write" && argc == 3) {
      write_formulas(argv[2]);
    } else if (mode == "verify" && argc == 3) {
      verify_formulas(argv[2]);
    } else if (mode == "fashion" && argc == 4) {
      check_fashion(argv[2], argv[3]);
    } else {
      if (g_rank == 0) std::cerr << "usage: interop_tool read DIR | write FILE | verify FILE | fashion H5 IDXDIR\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "[rank " << g_rank << "] interop_tool " << mode << ": " << e.what() << "\n";
    return 1;
  }
  if (!g_errors.empty()) {
    if (g_rank == 0) {
      std::cerr << g_errors.size() << " mismatches:\n";
      for (const auto& e : g_errors) std::cerr << "  " << e << "\n";
    }
    return 1;
  }
  return 0;
}

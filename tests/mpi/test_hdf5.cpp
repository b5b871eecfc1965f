// Parallel HDF5: dense datasets and CSR groups written and read back at every rank
// count, in every dtype and awkward shape, with chunks and compression; lazy reads of
// slices; and the errors, on every rank. Values are a formula of the element's index,
// checked against that formula, or against Eigen for sparse matrices.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mpi/sparse_support.hpp"
#include "mpi/temp_dir.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace fs = std::filesystem;

namespace {

using spartanxx_test::expect_error;
using spartanxx_test::TempDirTest;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;
using sx::DType;
using sx::Shape;

class Hdf5 : public TempDirTest {};

/// Element i (C order) of the test arrays, per dtype: fractions, large and negative
/// integers, a pattern of booleans.
double value_of(DType t, std::int64_t i) {
  switch (t) {
    case DType::f64: return 0.5 * static_cast<double>(i) - 3.25;
    case DType::f32: return 0.25 * static_cast<double>(i) - 1.5;
    case DType::i64: return static_cast<double>(i * 7 - 100);
    case DType::i32: return static_cast<double>(i * 3 - 50);
    case DType::boolean: return i % 3 == 0 ? 1.0 : 0.0;
  }
  return 0;
}

std::int64_t volume(const Shape& s) {
  std::int64_t v = 1;
  for (auto n : s) v *= n;
  return v;
}

sx::Array formula_array(const Shape& shape, DType t) {
  std::vector<double> v(static_cast<std::size_t>(volume(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = value_of(t, static_cast<std::int64_t>(i));
  return sx::from_buffer(shape, DType::f64, v.data()).astype(t);
}

::testing::AssertionResult has_formula(const sx::Array& a, const Shape& shape, DType t, std::int64_t offset = 0,
                                       std::int64_t stride = 1) {
  if (a.shape() != shape) return ::testing::AssertionFailure() << "shape " << spartanxx_test::shape_str(a.shape());
  if (a.dtype() != t) return ::testing::AssertionFailure() << "dtype " << sx::dtype_name(a.dtype());
  const auto got = sx::to_vector<double>(a);
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double want = value_of(t, offset + static_cast<std::int64_t>(i) * stride);
    if (got[i] != want) return ::testing::AssertionFailure() << "element " << i << ": " << got[i] << ", expected " << want;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace

// Every dtype, shapes from 0-d to 3-d (empty, one element, fewer rows than ranks,
// uneven tiles), contiguous, chunked, gzip and shuffle: what is written reads back.
TEST_F(Hdf5, DenseRoundTripsEveryDtypeAndShape) {
  const std::vector<Shape> shapes = {{}, {0}, {1}, {2, 3}, {13, 7}, {0, 4}, {5, 4, 3}, {1031}};
  const std::vector<DType> dtypes = {DType::f64, DType::f32, DType::i64, DType::i32, DType::boolean};
  for (int variant = 0; variant < 3; ++variant) {
    sx::io::Hdf5Options o;
    o.append = true;
    if (variant == 1) o.chunks = {};  // contiguous again, but below: explicit chunks for 2-d and more
    if (variant == 2) o.gzip = 6, o.shuffle = true;
    const std::string file = path(fmt::format("dense{}.h5", variant));
    int k = 0;
    for (const Shape& s : shapes)
      for (DType t : dtypes) {
        sx::io::Hdf5Options oo = o;
        if (variant == 1 && !s.empty()) {
          oo.chunks.assign(s.size(), 2);
          oo.chunks[0] = 3;
        }
        const std::string name = fmt::format("/g{}/x{}", k % 3, k);
        ++k;
        sx::io::write_hdf5(file, name, formula_array(s, t), oo);
        SCOPED_TRACE(name + " " + spartanxx_test::shape_str(s) + " " + sx::dtype_name(t) + " variant " + std::to_string(variant));
        EXPECT_TRUE(has_formula(sx::io::read_hdf5(file, name), s, t));
      }
  }
}

// A lazy read: nothing read until evaluated, a row slice reads only its rows (the plan
// says so), a strided slice too, and a reversed one is taken from what is read; data
// held by columns makes the read follow it.
TEST_F(Hdf5, LazyReadsAndSlices) {
  const std::string file = path("lazy.h5");
  const Shape s{101, 6};
  sx::io::write_hdf5(file, "x", formula_array(s, DType::f64));
  const sx::Array x = sx::io::read_hdf5(file, "x");
  EXPECT_EQ(x.shape(), s);
  EXPECT_EQ(x.dtype(), DType::f64);
  EXPECT_FALSE(x.is_evaluated());
  const sx::Array rows = x.slice({sx::Range{10, 40}});
  EXPECT_NE(sx::explain(rows).find("(a slice)"), std::string::npos) << sx::explain(rows);
  EXPECT_TRUE(has_formula(rows, {30, 6}, DType::f64, 60));
  const sx::Array every3 = sx::io::read_hdf5(file, "x").slice({sx::Range{1, 100, 3}, sx::Range{2, 3}});
  const auto v = sx::to_vector<double>(every3);
  ASSERT_EQ(v.size(), 33u);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], value_of(DType::f64, (1 + 3 * static_cast<std::int64_t>(i)) * 6 + 2));
  const sx::Array back = sx::io::read_hdf5(file, "x").slice({sx::Range{std::nullopt, std::nullopt, -1}});
  const auto b = sx::to_vector<double>(back);
  EXPECT_EQ(b.front(), value_of(DType::f64, 100 * 6));
  EXPECT_EQ(b.back(), value_of(DType::f64, 5));
  // A whole column sum over a lazy read: one pass.
  const auto col = sx::to_vector<double>(sx::sum(sx::io::read_hdf5(file, "x"), 0));
  for (std::int64_t j = 0; j < 6; ++j) {
    double want = 0;
    for (std::int64_t i = 0; i < 101; ++i) want += value_of(DType::f64, i * 6 + j);
    EXPECT_DOUBLE_EQ(col[static_cast<std::size_t>(j)], want);
  }
}

// Arrays in other layouts (columns, the transpose, partial sums) are written whole.
TEST_F(Hdf5, WritesAnyLayout) {
  const std::string file = path("layouts.h5");
  const sx::Array a = formula_array({9, 14}, DType::f64);
  sx::io::write_hdf5(file, "t", a.T());
  sx::io::Hdf5Options o;
  o.append = true;
  sx::io::write_hdf5(file, "colsum", sx::dot(a.T(), sx::ones({9})), o);  // a product's partial sums, resolved
  const Eigen::MatrixXd e = sx::to_eigen(a);
  spartanxx_test::expect_mat_near(sx::to_eigen(sx::io::read_hdf5(file, "t")), Eigen::MatrixXd(e.transpose()), 0);
  spartanxx_test::expect_mat_near(sx::to_eigen(sx::io::read_hdf5(file, "colsum")), Eigen::MatrixXd(e.colwise().sum().transpose()),
                                  1e-12);
}

// Attributes of datasets and groups: strings, numbers, vectors.
TEST_F(Hdf5, Attributes) {
  const std::string file = path("attrs.h5");
  sx::io::Hdf5Options o;
  o.attributes = {{"unit", std::string("metres")}, {"count", std::int64_t{42}}, {"scale", 0.125},
                  {"dims", std::vector<std::int64_t>{3, 4}}, {"weights", std::vector<double>{0.5, -1}}};
  sx::io::write_hdf5(file, "/a/b/x", sx::ones({3, 4}), o);
  const sx::io::Attributes got = sx::io::read_hdf5_attributes(file, "/a/b/x");
  EXPECT_EQ(got, o.attributes);
  sx::io::write_hdf5_attributes(file, "/a", {{"note", std::string("a group")}, {"count", std::int64_t{-1}}});
  const sx::io::Attributes g = sx::io::read_hdf5_attributes(file, "/a");
  EXPECT_EQ(std::get<std::string>(g.at("note")), "a group");
  EXPECT_EQ(std::get<std::int64_t>(g.at("count")), -1);
}

// Overwriting and adding: a new file replaces the old one; append adds; a name taken
// is an error unless overwrite is asked for.
TEST_F(Hdf5, CreateAppendOverwrite) {
  const std::string file = path("f.h5");
  sx::io::write_hdf5(file, "x", sx::ones({4}));
  sx::io::Hdf5Options add;
  add.append = true;
  sx::io::write_hdf5(file, "y", sx::full({2}, 3.0), add);
  EXPECT_EQ(sx::sum(sx::io::read_hdf5(file, "x")).item(), 4.0);
  EXPECT_EQ(sx::sum(sx::io::read_hdf5(file, "y")).item(), 6.0);
  expect_error<sx::io_error>([&] { sx::io::write_hdf5(file, "y", sx::ones({2}), add); }, {"f.h5", "/y", "exists", "overwrite"});
  add.overwrite = true;
  sx::io::write_hdf5(file, "y", sx::full({5}, 2.0), add);
  EXPECT_EQ(sx::io::read_hdf5(file, "y").shape(), Shape{5});
  sx::io::write_hdf5(file, "z", sx::ones({1}));  // a new file: x and y are gone
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(file, "x"); }, {"f.h5", "/x", "no dataset"});
  // No temporary file is left beside it.
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(listing(), std::vector<std::string>{"f.h5"});
}

// Sparse matrices as anndata CSR groups: every dtype of values, int64 and int32 indices,
// empty matrices and rows, fewer rows than ranks; read back balanced by entries.
TEST_F(Hdf5, SparseRoundTrips) {
  const std::string file = path("sparse.h5");
  int k = 0;
  for (auto [n, m, density] : std::vector<std::tuple<std::int64_t, std::int64_t, double>>{
           {57, 31, 0.2}, {3, 9, 0.5}, {0, 5, 0.0}, {6, 0, 0.0}, {40, 40, 0.0}, {1, 1, 1.0}}) {
    for (DType t : {DType::f64, DType::f32, DType::i64}) {
      for (bool index32 : {false, true}) {
        const auto trip = spartanxx_test::random_triplets(n, m, density, static_cast<std::uint64_t>(100 + k));
        const sx::Array a = spartanxx_test::from_shares(n, m, trip, t);
        sx::io::Hdf5Options o;
        o.append = true;
        o.index32 = index32;
        if (k % 2) o.gzip = 1;
        const std::string name = fmt::format("m{}", k++);
        sx::io::write_hdf5(file, name, a, o);
        const sx::Array b = sx::io::read_hdf5(file, name);
        SCOPED_TRACE(name);
        EXPECT_TRUE(b.is_sparse());
        EXPECT_EQ(b.dtype(), t);
        EXPECT_EQ(b.shape(), (Shape{n, m}));
        EXPECT_EQ(sx::nnz(b), sx::nnz(a));
        spartanxx_test::expect_mat_near(sx::to_eigen(b), sx::to_eigen(a), 0);
        const auto attrs = sx::io::read_hdf5_attributes(file, name);
        EXPECT_EQ(std::get<std::string>(attrs.at("encoding-type")), "csr_matrix");
        EXPECT_EQ(std::get<std::string>(attrs.at("encoding-version")), "0.1.0");
        EXPECT_EQ(std::get<std::vector<std::int64_t>>(attrs.at("shape")), (std::vector<std::int64_t>{n, m}));
      }
    }
  }
}

namespace {

/// Rank 0 writes a file with the serial HDF5 API (as another program would); every
/// rank returns once it exists.
template <class F>
void write_serially(const std::string& file, F&& f) {
  if (world_rank() == 0) {
    const hid_t h = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    f(h);
    H5Fclose(h);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/// A 1-d dataset of `stored` type, from `data` of the native type `type`.
void dataset_1d(hid_t parent, const char* name, hid_t type, const void* data, hsize_t n, hid_t stored = -1) {
  const hid_t s = H5Screate_simple(1, &n, nullptr);
  const hid_t d = H5Dcreate2(parent, name, stored >= 0 ? stored : type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n) H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(d);
  H5Sclose(s);
}

void string_attribute(hid_t object, const char* name, const char* value) {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  const hid_t s = H5Screate(H5S_SCALAR);
  const hid_t a = H5Acreate2(object, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, &value);
  H5Aclose(a);
  H5Sclose(s);
  H5Tclose(t);
}

/// A sparse group as anndata writes it; `encoding` "csr_matrix" or "csc_matrix".
void sparse_group(hid_t file, const char* name, const char* encoding, std::vector<std::int64_t> shape,
                  const std::vector<double>& data, const std::vector<std::int32_t>& indices,
                  const std::vector<std::int64_t>& indptr) {
  const hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  dataset_1d(g, "data", H5T_NATIVE_DOUBLE, data.data(), data.size());
  dataset_1d(g, "indices", H5T_NATIVE_INT32, indices.data(), indices.size());
  dataset_1d(g, "indptr", H5T_NATIVE_INT64, indptr.data(), indptr.size());
  string_attribute(g, "encoding-type", encoding);
  string_attribute(g, "encoding-version", "0.1.0");
  const hsize_t two = 2;
  const hid_t s = H5Screate_simple(1, &two, nullptr);
  const hid_t a = H5Acreate2(g, "shape", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, shape.data());
  H5Aclose(a);
  H5Sclose(s);
  H5Gclose(g);
}

}  // namespace

// Groups another program wrote: CSR with unsorted and repeated columns (SciPy allows
// both; repeats are summed), CSC converted; big-endian and narrow integer datasets.
TEST_F(Hdf5, ReadsWhatOthersWrite) {
  const std::string file = path("others.h5");
  write_serially(file, [](hid_t f) {
    // [[0, 2, 0, 1], [0, 0, 0, 0], [5, 0, 3, 0]] by rows, columns out of order in row 0, a repeat in row 2.
    sparse_group(f, "csr", "csr_matrix", {3, 4}, {1, 2, 2, 3, 3}, {3, 1, 0, 2, 0}, {0, 2, 2, 5});
    // The same matrix by columns.
    sparse_group(f, "csc", "csc_matrix", {3, 4}, {5, 2, 3, 1}, {2, 0, 2, 0}, {0, 1, 2, 3, 4});
    const double big[3] = {1.5, -2.0, 1e300};
    dataset_1d(f, "be", H5T_NATIVE_DOUBLE, big, 3, H5T_IEEE_F64BE);  // stored big-endian, converted on the way in
    const std::uint8_t px[4] = {0, 7, 200, 255};
    dataset_1d(f, "u8", H5T_NATIVE_UINT8, px, 4);
    const std::uint64_t u[2] = {1, 2};
    dataset_1d(f, "u64", H5T_NATIVE_UINT64, u, 2);
  });
  Eigen::MatrixXd want(3, 4);
  want << 0, 2, 0, 1, 0, 0, 0, 0, 5, 0, 3, 0;
  const sx::Array csr = sx::io::read_hdf5(file, "csr");
  EXPECT_TRUE(csr.is_sparse());
  EXPECT_EQ(sx::nnz(csr), 4);
  spartanxx_test::expect_mat_near(sx::to_eigen(csr), want, 0);
  const sx::Array csc = sx::io::read_hdf5(file, "csc");
  EXPECT_TRUE(csc.is_sparse());
  spartanxx_test::expect_mat_near(sx::to_eigen(csc), want, 0);
  EXPECT_EQ(sx::to_vector<double>(sx::io::read_hdf5(file, "be")), (std::vector<double>{1.5, -2.0, 1e300}));
  const sx::Array u8 = sx::io::read_hdf5(file, "u8");
  EXPECT_EQ(u8.dtype(), DType::i32);
  EXPECT_EQ(sx::to_vector<std::int64_t>(u8), (std::vector<std::int64_t>{0, 7, 200, 255}));
  expect_error<sx::dtype_error>([&] { sx::io::read_hdf5(file, "u64"); }, {"others.h5", "/u64", "uint64"});
}

// Bad input: a typed error naming the file and dataset, on every rank.
TEST_F(Hdf5, ErrorsOnEveryRank) {
  const std::string file = path("e.h5");
  sx::io::write_hdf5(file, "x", sx::ones({4, 4}));
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(path("absent.h5"), "x"); }, {"absent.h5"});
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(file, "/nope/y"); }, {"e.h5", "/nope/y", "no dataset"});
  const std::string text = write_file("plain.h5", "not an HDF5 file\n");
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(text, "x"); }, {"plain.h5", "not an HDF5 file"});
  // A truncated copy: the dataset's bytes are gone.
  if (world_rank() == 0) {
    fs::copy_file(file, path("cut.h5"));
    fs::resize_file(path("cut.h5"), fs::file_size(file) / 3);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  expect_error<sx::io_error>([&] { sx::sum(sx::io::read_hdf5(path("cut.h5"), "x")).item(); }, {"cut.h5"});
  // A path that cannot be written, and bad options: nothing left behind.
  expect_error<sx::io_error>([&] { sx::io::write_hdf5(path("no/such/dir/o.h5"), "x", sx::ones({3})); }, {"o.h5"});
  sx::io::Hdf5Options bad;
  bad.gzip = 12;
  expect_error<sx::value_error>([&] { sx::io::write_hdf5(path("o.h5"), "x", sx::ones({3}), bad); }, {"o.h5", "gzip"});
  bad.gzip = 0;
  bad.chunks = {2, 2};
  expect_error<sx::value_error>([&] { sx::io::write_hdf5(path("o.h5"), "x", sx::ones({3}), bad); }, {"o.h5", "chunk"});
  MPI_Barrier(MPI_COMM_WORLD);
  for (const std::string& f : listing()) EXPECT_TRUE(f.rfind("o.h5", 0) != 0) << f << " left behind";
  // Sparse groups that are wrong.
  const std::string sp = path("bad_sparse.h5");
  write_serially(sp, [](hid_t f) {
    sparse_group(f, "down", "csr_matrix", {3, 4}, {1, 2, 3}, {0, 1, 2}, {0, 2, 1, 3});
    sparse_group(f, "wide", "csr_matrix", {2, 4}, {1, 2}, {0, 9}, {0, 1, 2});
    sparse_group(f, "coo", "coo_matrix", {2, 4}, {1}, {0}, {0, 1, 1});
    const hid_t g = H5Gcreate2(f, "plain_group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
  });
  expect_error<sx::value_error>([&] { sx::io::read_hdf5(sp, "down"); }, {"bad_sparse.h5", "/down", "indptr"});
  expect_error<sx::value_error>([&] { sx::io::read_hdf5(sp, "wide"); }, {"bad_sparse.h5", "/wide", "column index 9"});
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(sp, "coo"); }, {"/coo", "coo_matrix"});
  expect_error<sx::io_error>([&] { sx::io::read_hdf5(sp, "plain_group"); }, {"/plain_group", "not a sparse matrix"});
}

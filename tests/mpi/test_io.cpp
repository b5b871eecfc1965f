// File I/O of sparse data: Matrix Market and libsvm. Every expectation is written out in
// the test (Eigen triplet lists, file texts) or comes from an independent reader (the
// METIS graphs); the library is never its own reference. Errors must be the typed
// exception on every rank, naming the file and the line.
#include <gtest/gtest.h>

#include <iterator>

#include <numeric>
#include <zlib.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <typeinfo>
#include <vector>

#include <Eigen/Core>
#include <Eigen/SparseCore>

#include "mpi/metis_graph.hpp"
#include "mpi/sparse_support.hpp"
#include "mpi/temp_dir.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml/documents.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "spartanxx/spartanxx.hpp"
#include "spartanxx/sparse.hpp"

namespace sx = spartanxx;
namespace fs = std::filesystem;

namespace {

using spartanxx_test::TempDirTest;
using spartanxx_test::expect_alive;
using spartanxx_test::expect_error;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;
using SpMat = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;
using Trip = Eigen::Triplet<double, std::int64_t>;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------


class MatrixMarket : public TempDirTest {};
class Libsvm : public TempDirTest {};
class MetisIo : public TempDirTest {};
class TextLines : public TempDirTest {};
class Documents : public TempDirTest {};
class WriteText : public TempDirTest {};

std::string read_text(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SpMat from_trips(std::int64_t n, std::int64_t m, const std::vector<Trip>& t) {
  SpMat a(n, m);
  a.setFromTriplets(t.begin(), t.end());
  a.makeCompressed();
  return a;
}

// Stored entries in row order.
std::vector<std::tuple<std::int64_t, std::int64_t, double>> entries(const SpMat& a) {
  std::vector<std::tuple<std::int64_t, std::int64_t, double>> out;
  for (Eigen::Index i = 0; i < a.outerSize(); ++i)
    for (SpMat::InnerIterator it(a, i); it; ++it) out.emplace_back(it.row(), it.col(), it.value());
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::make_pair(std::get<0>(x), std::get<1>(x)) < std::make_pair(std::get<0>(y), std::get<1>(y));
  });
  return out;
}

// Same shape, same stored positions, bitwise-equal values.
void expect_same(const SpMat& got, const SpMat& want) {
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  const auto g = entries(got), w = entries(want);
  ASSERT_EQ(g.size(), w.size()) << "stored entries differ";
  for (std::size_t k = 0; k < g.size(); ++k) {
    EXPECT_EQ(std::get<0>(g[k]), std::get<0>(w[k])) << "entry " << k;
    EXPECT_EQ(std::get<1>(g[k]), std::get<1>(w[k])) << "entry " << k;
    EXPECT_EQ(std::get<2>(g[k]), std::get<2>(w[k])) << "entry " << k << " at (" << std::get<0>(w[k]) << ", "
                                                     << std::get<1>(w[k]) << ")";
  }
}

// The sparse array made from `t`, each rank passing every P-th triplet (an uneven,
// interleaved share, so that the library must move them to their rows).
sx::Array build(std::int64_t n, std::int64_t m, const std::vector<Trip>& t, sx::DType dtype = sx::DType::f64) {
  std::vector<std::int64_t> r, c;
  std::vector<double> v;
  for (std::size_t k = 0; k < t.size(); ++k)
    if (static_cast<int>(k % static_cast<std::size_t>(world_size())) == world_rank()) {
      r.push_back(t[k].row());
      c.push_back(t[k].col());
      v.push_back(t[k].value());
    }
  return sx::sparse_from_triplets({n, m}, r, c, v, dtype);
}

std::string fmt_size(std::int64_t n, std::int64_t m, std::int64_t nnz) {
  return std::to_string(n) + " " + std::to_string(m) + " " + std::to_string(nnz);
}

// ---------------------------------------------------------------------------------
// Matrix Market: round trips
// ---------------------------------------------------------------------------------

// A 23 x 17 matrix with empty rows (0, 5, 6, 22), duplicates, awkward doubles.
std::vector<Trip> awkward_triplets() {
  std::vector<Trip> t;
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> val(-10, 10);
  for (int i = 1; i < 22; ++i) {
    if (i == 5 || i == 6) continue;
    // Distinct columns below 15 (a sum of three or more duplicates would depend on the order).
    for (int k = 0; k < (i % 4) + 1; ++k) t.emplace_back(i, (i * 7 + k * 4) % 15, val(gen) / 3.0);
  }
  t.emplace_back(1, 16, 1.0 / 3.0);
  t.emplace_back(1, 16, 2.0 / 7.0);  // a duplicate, summed
  t.emplace_back(2, 15, 5e-324);     // the smallest subnormal
  t.emplace_back(3, 15, -2.5e300);
  t.emplace_back(4, 15, 1e-300);
  t.emplace_back(7, 15, 3.141592653589793);
  t.emplace_back(8, 16, std::numeric_limits<double>::infinity());
  t.emplace_back(9, 16, -std::numeric_limits<double>::infinity());
  t.emplace_back(21, 16, 0.1);
  return t;
}

TEST_F(MatrixMarket, RoundTripMatchesTriplets) {
  const auto t = awkward_triplets();
  const SpMat want = from_trips(23, 17, t);
  const auto a = build(23, 17, t);
  const std::string p = path("a.mtx");
  sx::io::write_matrix_market(p, a);

  // The file itself, read independently: banner, size line, one line per entry, rows in order.
  if (world_rank() == 0) {
    std::istringstream in(read_text(p));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "%%MatrixMarket matrix coordinate real general");
    std::getline(in, line);
    EXPECT_EQ(line, "23 17 " + std::to_string(want.nonZeros()));
    std::int64_t last_row = 0, count = 0;
    std::vector<Trip> back;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::int64_t i = 0, j = 0;
      std::string v;
      ASSERT_TRUE(static_cast<bool>(ls >> i >> j >> v)) << line;
      EXPECT_GE(i, last_row) << "rows out of order";
      last_row = i;
      ++count;
      back.emplace_back(i - 1, j - 1, std::strtod(v.c_str(), nullptr));
    }
    EXPECT_EQ(count, want.nonZeros());
    expect_same(from_trips(23, 17, back), want);
  }
  // The file holds infinities: kept when asked to, refused by default.
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, {p, "non-finite value"});
  const auto b = sx::io::read_matrix_market(p, sx::DType::f64, sx::io::NonFinite::accept);
  EXPECT_EQ(b.shape(), (sx::Shape{23, 17}));
  EXPECT_EQ(sx::nnz(b), want.nonZeros());
  expect_same(sx::to_eigen_sparse(b), want);
  // Nothing but the file is left in the directory.
  if (world_rank() == 0) EXPECT_EQ(listing(), std::vector<std::string>{"a.mtx"});
}

TEST_F(MatrixMarket, RoundTripEdgeShapes) {
  struct Case {
    std::int64_t n, m;
    std::vector<Trip> t;
  };
  const std::vector<Case> cases = {
      {6, 4, {}},                                      // all zero
      {1, 1, {Trip(0, 0, -1.5)}},                      // a single entry
      {9, 3, {Trip(8, 2, 42.0)}},                      // a single entry in the last row
      {2, 5, {Trip(0, 4, 1.0), Trip(1, 0, 2.0)}},      // fewer rows than ranks
      {5, 2, {Trip(4, 1, 3.0), Trip(0, 0, 0.25)}},     // uneven rows over ranks
      {0, 3, {}},                                      // no rows at all
  };
  int k = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << k << ": " << c.n << " x " << c.m);
    const std::string p = path("edge" + std::to_string(k++) + ".mtx");
    sx::io::write_matrix_market(p, build(c.n, c.m, c.t));
    if (world_rank() == 0) {
      std::istringstream in(read_text(p));
      std::string banner, size;
      std::getline(in, banner);
      std::getline(in, size);
      EXPECT_EQ(size, fmt_size(c.n, c.m, static_cast<std::int64_t>(c.t.size())));
    }
    const auto b = sx::io::read_matrix_market(p);
    EXPECT_EQ(b.shape(), (sx::Shape{c.n, c.m}));
    EXPECT_EQ(sx::nnz(b), static_cast<std::int64_t>(c.t.size()));
    expect_same(sx::to_eigen_sparse(b), from_trips(c.n, c.m, c.t));
  }
}

TEST_F(MatrixMarket, WritesDenseNonzeros) {
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(7, 5);
  d(0, 0) = 1.25;
  d(3, 4) = -2.0 / 3.0;
  d(6, 1) = 1e20;
  d(2, 2) = -0.0;  // zero: not written
  const std::string p = path("dense.mtx");
  sx::io::write_matrix_market(p, sx::from_eigen(d));
  const auto b = sx::io::read_matrix_market(p);
  EXPECT_EQ(sx::nnz(b), 3);
  expect_same(sx::to_eigen_sparse(b), from_trips(7, 5, {Trip(0, 0, 1.25), Trip(3, 4, -2.0 / 3.0), Trip(6, 1, 1e20)}));
  // A dense result of a computation (its layout is the planner's choice).
  Eigen::MatrixXd e = Eigen::MatrixXd::Zero(4, 6);
  e(1, 5) = 3.0;
  e(3, 0) = -1.0;
  sx::io::write_matrix_market(p, sx::from_eigen(e).T().T() * 2.0);
  expect_same(sx::to_eigen_sparse(sx::io::read_matrix_market(p)), from_trips(4, 6, {Trip(1, 5, 6.0), Trip(3, 0, -2.0)}));
}

// ---------------------------------------------------------------------------------
// Matrix Market: reading what other writers produce
// ---------------------------------------------------------------------------------

TEST_F(MatrixMarket, ReadsSymmetricPattern) {
  const std::string p = write_file("sp.mtx",
                                   "%%MatrixMarket matrix coordinate pattern symmetric\n"
                                   "% a comment\n"
                                   "%\n"
                                   "4 4 4\n"
                                   "1 1\n"
                                   "2 1\n"
                                   "4 2\n"
                                   "4 3\n");
  const auto a = sx::io::read_matrix_market(p);
  EXPECT_EQ(a.shape(), (sx::Shape{4, 4}));
  EXPECT_EQ(sx::nnz(a), 7);
  expect_same(sx::to_eigen_sparse(a), from_trips(4, 4,
                                                 {Trip(0, 0, 1), Trip(1, 0, 1), Trip(0, 1, 1), Trip(3, 1, 1),
                                                  Trip(1, 3, 1), Trip(3, 2, 1), Trip(2, 3, 1)}));
}

TEST_F(MatrixMarket, ReadsSymmetricRealWithCrlfAndBlankLines) {
  const std::string p = write_file("sr.mtx",
                                   "%%MatrixMarket Matrix Coordinate Real Symmetric\r\n"
                                   "3 3 3\r\n"
                                   "1 1 2.5\r\n"
                                   "\r\n"
                                   "3 1 -1e-3\r\n"
                                   "  3   2\t+4  \r\n"
                                   "\n");
  const auto a = sx::io::read_matrix_market(p);
  expect_same(sx::to_eigen_sparse(a), from_trips(3, 3,
                                                 {Trip(0, 0, 2.5), Trip(2, 0, -1e-3), Trip(0, 2, -1e-3),
                                                  Trip(2, 1, 4.0), Trip(1, 2, 4.0)}));
}

TEST_F(MatrixMarket, ReadsIntegerFiles) {
  // No newline after the last line; a duplicate entry is summed.
  const std::string p = write_file("int.mtx",
                                   "%%MatrixMarket matrix coordinate integer general\n"
                                   "2 3 4\n"
                                   "1 3 -7\n"
                                   "2 1 9007199254740992\n"
                                   "1 3 2\n"
                                   "2 2 3");
  const SpMat want = from_trips(2, 3, {Trip(0, 2, -5), Trip(1, 0, 9007199254740992.0), Trip(1, 1, 3)});
  const auto a = sx::io::read_matrix_market(p, sx::DType::i64);
  EXPECT_EQ(a.dtype(), sx::DType::i64);
  expect_same(sx::to_eigen_sparse(a), want);
  const auto f = sx::io::read_matrix_market(p);
  EXPECT_EQ(f.dtype(), sx::DType::f64);
  expect_same(sx::to_eigen_sparse(f), want);
  // An integer array written and read back.
  const std::string q = path("int2.mtx");
  sx::io::write_matrix_market(q, a);
  expect_same(sx::to_eigen_sparse(sx::io::read_matrix_market(q)), want);
}

// Many lines of very different lengths, so that range boundaries fall everywhere.
TEST_F(MatrixMarket, ReadsManyLinesAtAnyRankCount) {
  std::mt19937_64 gen(11);
  std::uniform_int_distribution<int> row(1, 300), col(1, 40), pad(0, 30);
  std::string text = "%%MatrixMarket matrix coordinate real general\n% padding\n300 40 1000\n";
  std::vector<Trip> t;
  for (int k = 0; k < 1000; ++k) {
    const int i = row(gen), j = col(gen);
    const double v = (k % 7 == 0) ? std::ldexp(1.0, -(k % 20)) : k * 0.5 - 100;  // duplicates sum exactly
    t.emplace_back(i - 1, j - 1, v);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    text += std::to_string(i) + std::string(static_cast<std::size_t>(pad(gen)), ' ') + " " + std::to_string(j) + " " +
            buf + "\n";
    if (k % 97 == 0) text += "% an interleaved comment\n";
  }
  const std::string p = write_file("many.mtx", text);
  expect_same(sx::to_eigen_sparse(sx::io::read_matrix_market(p)), from_trips(300, 40, t));
}

// ---------------------------------------------------------------------------------
// Matrix Market: malformed files
// ---------------------------------------------------------------------------------

TEST_F(MatrixMarket, MissingFile) {
  const std::string p = path("nope.mtx");
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, {"read_matrix_market", p});
}

TEST_F(MatrixMarket, BadHeaders) {
  struct Case {
    std::string text;
    std::vector<std::string> frags;
  };
  const std::vector<Case> cases = {
      {"", {"line 1", "not a Matrix Market file"}},
      {"1 2 3\n1 1 1\n", {"line 1", "not a Matrix Market file"}},
      {"%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n", {"line 1", "array", "not supported"}},
      {"%%MatrixMarket matrix coordinate complex general\n1 1 1\n1 1 1 0\n", {"line 1", "complex", "not supported"}},
      {"%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 1\n", {"line 1", "skew-symmetric", "not supported"}},
      {"%%MatrixMarket matrix coordinate complex hermitian\n2 2 1\n2 1 1 0\n", {"line 1", "not supported"}},
      {"%%MatrixMarket matrix coordinate real hermitian\n2 2 1\n2 1 1\n", {"line 1", "hermitian", "not supported"}},
      {"%%MatrixMarket matrix coordinate real general\n% c\n10 10\n1 1 1\n", {"line 3", "expected 3 fields", "got 2"}},
      {"%%MatrixMarket matrix coordinate real general\n10 x 1\n1 1 1\n", {"line 2", "columns", "\"x\""}},
      {"%%MatrixMarket matrix coordinate real general\n-3 10 1\n1 1 1\n", {"line 2", "rows", "negative"}},
      {"%%MatrixMarket matrix coordinate real general\n3 0 1\n1 1 1\n", {"line 2", "3 x 0"}},
      {"%%MatrixMarket matrix coordinate real general\n% only comments\n", {"line 3", "size line"}},
      {"%%MatrixMarket matrix coordinate real symmetric\n3 4 1\n1 1 1\n", {"line 2", "square"}},
  };
  int k = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << "case " << k);
    const std::string p = write_file("h" + std::to_string(k++) + ".mtx", c.text);
    expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, {});
    int done = 0;
    try {
      sx::io::read_matrix_market(p);
    } catch (const sx::io_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
      for (const auto& f : c.frags) EXPECT_NE(msg.find(f), std::string::npos) << msg << " lacks " << f;
      done = 1;
    }
    EXPECT_EQ(done, 1);
  }
}

// A good 10 x 10 file of `entries` lines (line i+3 holds entry i) with line `bad` (1-based
// file line) replaced.
std::string file_with_bad_line(int entries, int bad, const std::string& bad_text) {
  std::string text = "%%MatrixMarket matrix coordinate real general\n% comment\n10 10 " + std::to_string(entries) + "\n";
  for (int k = 0; k < entries; ++k) {
    const int line = k + 4;
    text += line == bad ? bad_text : std::to_string(k % 10 + 1) + " " + std::to_string((k * 3) % 10 + 1) + " " +
                                         std::to_string(k) + ".5";
    text += "\n";
  }
  return text;
}

TEST_F(MatrixMarket, BadEntriesNameFileAndLine) {
  struct Case {
    std::string bad;
    std::vector<std::string> frags;
  };
  const std::vector<Case> cases = {
      {"3 12 1.0", {"column index 12 out of range [1, 10]"}},
      {"0 2 1.0", {"row index 0 out of range [1, 10]"}},
      {"11 2 1.0", {"row index 11 out of range [1, 10]"}},
      {"3 4", {"expected 3 fields, got 2"}},
      {"3 4 1 1", {"expected 3 fields, got 4"}},
      {"3 4 abc", {"non-numeric value \"abc\""}},
      {"3 4 1.5x", {"non-numeric value \"1.5x\""}},
      {"x 4 1", {"row index \"x\""}},
      {"3 4.0 1", {"column index \"4.0\""}},
  };
  // The bad line first, in the middle and last, so that it falls on different ranks.
  const int entries = 60;
  for (int bad : {4, 17, 35, 63}) {
    int k = 0;
    for (const auto& c : cases) {
      SCOPED_TRACE(::testing::Message() << "bad line " << bad << ", case " << k);
      const std::string p = write_file("b" + std::to_string(bad) + "_" + std::to_string(k++) + ".mtx",
                                       file_with_bad_line(entries, bad, c.bad));
      std::vector<std::string> frags = c.frags;
      frags.push_back("read_matrix_market: " + p + " line " + std::to_string(bad) + ": ");
      expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, frags);
    }
  }
  expect_alive();
}

TEST_F(MatrixMarket, IntegerFieldRejectsReals) {
  const std::string p = write_file("i.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 3\n2 2 0.5\n");
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, {p, "line 4", "non-integer value \"0.5\""});
  const std::string q = write_file("pat.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 1\n2 2 1\n");
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(q); }, {q, "line 4", "expected 2 fields, got 3"});
}

TEST_F(MatrixMarket, WrongEntryCounts) {
  // Truncated: 30 declared, 29 present.
  std::string text = file_with_bad_line(30, 0, "");
  text.erase(text.rfind('\n', text.size() - 2) + 1);
  const std::string p = write_file("short.mtx", text);
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); }, {p, "declares 30 entries, found 29"});
  const std::string q = write_file("long.mtx", file_with_bad_line(30, 0, "") + "1 1 1\n");
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(q); }, {q, "declares 30 entries, found 31"});
}

TEST_F(MatrixMarket, NonFiniteValuesRejectedUnlessAccepted) {
  int k = 0;
  for (const std::string v : {"nan", "-inf", "Infinity", "1e999", "-NaN"}) {
    SCOPED_TRACE(v);
    const std::string p = write_file("nf" + std::to_string(k++) + ".mtx",
                                     "%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1.5\n3 2 " + v + "\n");
    expect_error<sx::io_error>([&] { sx::io::read_matrix_market(p); },
                               {"read_matrix_market: " + p + " line 4: non-finite value \"" + v + "\"", "NonFinite::accept"});
    const Eigen::SparseMatrix<double> a =
        sx::to_eigen_sparse(sx::io::read_matrix_market(p, sx::DType::f64, sx::io::NonFinite::accept));
    EXPECT_EQ(a.coeff(0, 0), 1.5);
    const double x = a.coeff(2, 1);
    EXPECT_FALSE(std::isfinite(x));
    EXPECT_EQ(std::isnan(x), v.find("a") != std::string::npos || v.find("A") != std::string::npos);
  }
}

TEST_F(MatrixMarket, DeclaredSizesBeyondMemoryFailBeforeAllocating) {
  const std::string banner = "%%MatrixMarket matrix coordinate real general\n";
  const std::string huge = write_file("huge.mtx", banner + "3000000000 3000000000 1\n1 1 1\n");
  const std::string rows = write_file("rows.mtx", banner + "9223372036854775807 1 1\n1 1 1\n");
  const std::string many = write_file("many.mtx", banner + "4 4 17\n1 1 1\n");
  sx::set_memory_limit(std::int64_t{1} << 30, "the test's limit");
  // 3e9 rows: 24 GB of row pointers over at most 4 ranks.
  expect_error<sx::memory_error>([&] { sx::io::read_matrix_market(huge); },
                                 {"read_matrix_market: " + huge + ": a 3000000000 x 3000000000 matrix with 1 entries needs about",
                                  "per rank but a rank may use 1.07 GB (the test's limit)"});
  expect_error<sx::memory_error>([&] { sx::io::read_matrix_market(rows); },
                                 {rows, "a 9223372036854775807 x 1 matrix", "a rank may use 1.07 GB"});
  sx::set_memory_limit(0);
  // Without a limit set, the node's memory bounds it all the same.
  if (sx::memory_limit().bytes > 0)
    expect_error<sx::memory_error>([&] { sx::io::read_matrix_market(rows); }, {rows, "a rank may use"});
  // More entries than a 4 x 4 matrix has.
  expect_error<sx::io_error>([&] { sx::io::read_matrix_market(many); }, {many, "line 2", "17 entries declared in a 4 x 4 matrix"});
  expect_alive();
}

// ---------------------------------------------------------------------------------
// Matrix Market: write failures
// ---------------------------------------------------------------------------------

TEST_F(MatrixMarket, UnwritablePathLeavesNothing) {
  const auto a = build(4, 4, {Trip(0, 0, 1.0), Trip(3, 3, 2.0)});
  // A path under a regular file: nothing can be created there.
  write_file("plain", "x");
  const std::string p = path("plain/out.mtx");
  expect_error<sx::io_error>([&] { sx::io::write_matrix_market(p, a); }, {"write_matrix_market", p});
  if (world_rank() == 0) EXPECT_EQ(listing(), std::vector<std::string>{"plain"});
  // A missing directory.
  const std::string q = path("missing/out.mtx");
  expect_error<sx::io_error>([&] { sx::io::write_matrix_market(q, a); }, {"write_matrix_market", q});
  if (world_rank() == 0) EXPECT_EQ(listing(), std::vector<std::string>{"plain"});
}

TEST_F(MatrixMarket, FailedRenameRemovesTemporaryFile) {
  // The target is a non-empty directory: everything is written, the final rename fails.
  if (world_rank() == 0) {
    fs::create_directory(path("target"));
    std::ofstream(path("target/keep")) << "keep";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto a = build(50, 8, {Trip(0, 0, 1.0), Trip(49, 7, 2.0), Trip(20, 3, 3.0)});
  const std::string p = path("target");
  expect_error<sx::io_error>([&] { sx::io::write_matrix_market(p, a); }, {"write_matrix_market", p});
  if (world_rank() == 0) {
    EXPECT_EQ(listing(), std::vector<std::string>{"target"});
    EXPECT_EQ(read_text(path("target/keep")), "keep");
  }
}

TEST_F(MatrixMarket, OverwritesAnExistingFile) {
  const std::string p = write_file("old.mtx", std::string(10000, 'x'));
  sx::io::write_matrix_market(p, build(2, 2, {Trip(1, 1, 0.5)}));
  if (world_rank() == 0)
    EXPECT_EQ(read_text(p), "%%MatrixMarket matrix coordinate real general\n2 2 1\n2 2 0.5\n");
  expect_same(sx::to_eigen_sparse(sx::io::read_matrix_market(p)), from_trips(2, 2, {Trip(1, 1, 0.5)}));
}

TEST_F(MatrixMarket, WriteNeedsAMatrix) {
  expect_error<sx::shape_error>([&] { sx::io::write_matrix_market(path("v.mtx"), sx::ones({3})); },
                                {"write_matrix_market", "(3,)"});
}

// ---------------------------------------------------------------------------------
// libsvm
// ---------------------------------------------------------------------------------

Eigen::VectorXd vec(std::initializer_list<double> v) {
  Eigen::VectorXd out(static_cast<Eigen::Index>(v.size()));
  Eigen::Index i = 0;
  for (double x : v) out(i++) = x;
  return out;
}

TEST_F(Libsvm, ReadsLabelsCommentsAndBlankLines) {
  const std::string p = write_file("a.svm",
                                   "# a header comment\n"
                                   "+1 3:0.5 1:2 7:-1e-2 # trailing comment\n"
                                   "\n"
                                   "-1 2:1\r\n"
                                   "   \n"
                                   "2.5 qid:3 4:1 4:2\n"
                                   "# comment only\n"
                                   "0\n"
                                   "-7e1 1:1.5e+2 5:inf");
  expect_error<sx::io_error>([&] { sx::io::read_libsvm(p); }, {p, "line 9: non-finite value \"inf\""});
  const auto d = sx::io::read_libsvm(p, 0, false, sx::io::NonFinite::accept);
  EXPECT_EQ(d.X.shape(), (sx::Shape{5, 7}));
  EXPECT_EQ(d.y.shape(), (sx::Shape{5}));
  expect_same(sx::to_eigen_sparse(d.X),
              from_trips(5, 7,
                         {Trip(0, 2, 0.5), Trip(0, 0, 2), Trip(0, 6, -1e-2), Trip(1, 1, 1), Trip(2, 3, 3),
                          Trip(4, 0, 150), Trip(4, 4, std::numeric_limits<double>::infinity())}));
  const Eigen::MatrixXd y = sx::to_eigen(d.y);
  EXPECT_EQ(y, Eigen::MatrixXd(vec({1, -1, 2.5, 0, -70})));
}

TEST_F(Libsvm, ZeroBasedAndFixedFeatureCount) {
  const std::string p = write_file("z.svm", "1 0:1 2:3\n0 4:0.25\n");
  const auto d = sx::io::read_libsvm(p, 0, true);
  EXPECT_EQ(d.X.shape(), (sx::Shape{2, 5}));
  expect_same(sx::to_eigen_sparse(d.X), from_trips(2, 5, {Trip(0, 0, 1), Trip(0, 2, 3), Trip(1, 4, 0.25)}));
  const auto e = sx::io::read_libsvm(p, 9, true);
  EXPECT_EQ(e.X.shape(), (sx::Shape{2, 9}));
  expect_same(sx::to_eigen_sparse(e.X), from_trips(2, 9, {Trip(0, 0, 1), Trip(0, 2, 3), Trip(1, 4, 0.25)}));
  const std::string q = write_file("o.svm", "1 1:1 5:3\n");
  const auto f = sx::io::read_libsvm(q, 5);
  EXPECT_EQ(f.X.shape(), (sx::Shape{1, 5}));
  expect_same(sx::to_eigen_sparse(f.X), from_trips(1, 5, {Trip(0, 0, 1), Trip(0, 4, 3)}));
}

TEST_F(Libsvm, ManyRowsAtAnyRankCount) {
  std::mt19937_64 gen(5);
  std::uniform_int_distribution<int> nf(0, 12), idx(1, 500), kind(0, 9);
  std::string text;
  std::vector<Trip> t;
  std::vector<double> labels;
  for (int r = 0; r < 700; ++r) {
    if (kind(gen) == 0) text += "# comment line\n";
    if (kind(gen) == 0) text += "\n";
    const double label = static_cast<double>(r % 3) - 1;
    labels.push_back(label);
    text += std::to_string(static_cast<int>(label));
    const int n = nf(gen);
    for (int k = 0; k < n; ++k) {
      const int j = idx(gen);
      const double v = (r * 31 + k) * 0.125;
      t.emplace_back(static_cast<std::int64_t>(labels.size() - 1), j - 1, v);
      char buf[64];
      std::snprintf(buf, sizeof buf, " %d:%.17g", j, v);
      text += buf;
    }
    text += "\n";
  }
  const std::string p = write_file("many.svm", text);
  const auto d = sx::io::read_libsvm(p, 500);
  EXPECT_EQ(d.X.shape(), (sx::Shape{700, 500}));
  expect_same(sx::to_eigen_sparse(d.X), from_trips(700, 500, t));
  const Eigen::MatrixXd y = sx::to_eigen(d.y);
  ASSERT_EQ(y.rows(), 700);
  for (int r = 0; r < 700; ++r) EXPECT_EQ(y(r, 0), labels[static_cast<std::size_t>(r)]) << "row " << r;
  // y and X go together in arithmetic.
  const Eigen::MatrixXd xy = sx::to_eigen(sx::dot(d.X.T(), d.y));
  const SpMat want = from_trips(700, 500, t);
  const Eigen::VectorXd yv = Eigen::Map<const Eigen::VectorXd>(labels.data(), 700);
  const Eigen::VectorXd ref = want.transpose() * yv;
  ASSERT_EQ(xy.rows(), 500);
  for (int j = 0; j < 500; ++j) EXPECT_NEAR(xy(j, 0), ref(j), 1e-9 * (1 + std::abs(ref(j))));
}

TEST_F(Libsvm, EmptyFile) {
  const std::string p = write_file("e.svm", "# nothing\n\n");
  const auto d = sx::io::read_libsvm(p, 4);
  EXPECT_EQ(d.X.shape(), (sx::Shape{0, 4}));
  EXPECT_EQ(d.y.shape(), (sx::Shape{0}));
  EXPECT_EQ(sx::nnz(d.X), 0);
}

TEST_F(Libsvm, MalformedLinesNameFileAndLine) {
  struct Case {
    std::string line;
    std::int64_t n_features;
    bool zero_based;
    std::vector<std::string> frags;
  };
  const std::vector<Case> cases = {
      {"abc 1:1", 0, false, {"non-numeric label \"abc\""}},
      {"1 3=1", 0, false, {"expected index:value, got \"3=1\""}},
      {"1 3:", 0, false, {"expected index:value"}},
      {"1 x:1", 0, false, {"feature index \"x\""}},
      {"1 3:abc", 0, false, {"non-numeric value \"abc\""}},
      {"1 0:1", 0, false, {"feature index 0 out of range", "1-based"}},
      {"1 -1:1", 0, true, {"feature index -1 out of range"}},
      {"1 12:1", 10, false, {"feature index 12 out of range [1, 10]"}},
      {"1 10:1", 10, true, {"feature index 10 out of range [0, 9]"}},
  };
  for (int bad : {1, 9, 22}) {
    int k = 0;
    for (const auto& c : cases) {
      SCOPED_TRACE(::testing::Message() << "bad line " << bad << ", case " << k);
      std::string text;
      for (int line = 1; line <= 24; ++line) {
        if (line == bad) text += c.line;
        else if (line % 5 == 0) text += "# comment";
        else if (line % 7 == 0) text += "";
        else text += "1 2:0.5 3:1";
        text += "\n";
      }
      const std::string p = write_file("m" + std::to_string(bad) + "_" + std::to_string(k++) + ".svm", text);
      std::vector<std::string> frags = c.frags;
      frags.push_back("read_libsvm: " + p + " line " + std::to_string(bad) + ": ");
      expect_error<sx::io_error>([&] { sx::io::read_libsvm(p, c.n_features, c.zero_based); }, frags);
    }
  }
  expect_alive();
  const std::string missing = path("missing.svm");
  expect_error<sx::io_error>([&] { sx::io::read_libsvm(missing); }, {"read_libsvm", missing});
}

TEST_F(Libsvm, NonFiniteLabelsAndValuesRejectedUnlessAccepted) {
  const std::string good = "1 1:0.5 2:1\n0 3:2\n";
  const std::string p = write_file("nan_value.svm", good + "1 2:nan 3:1\n" + good);
  const std::string q = write_file("inf_label.svm", good + good + "inf 1:1\n");
  expect_error<sx::io_error>([&] { sx::io::read_libsvm(p); },
                             {"read_libsvm: " + p + " line 3: non-finite value \"nan\" in \"2:nan\"", "NonFinite::accept"});
  expect_error<sx::io_error>([&] { sx::io::read_libsvm(q); }, {"read_libsvm: " + q + " line 5: non-finite label \"inf\""});
  const auto a = sx::io::read_libsvm(p, 0, false, sx::io::NonFinite::accept);
  const Eigen::SparseMatrix<double> X = sx::to_eigen_sparse(a.X);
  EXPECT_TRUE(std::isnan(X.coeff(2, 1)));
  EXPECT_EQ(X.coeff(2, 2), 1.0);
  const auto b = sx::io::read_libsvm(q, 0, false, sx::io::NonFinite::accept);
  const Eigen::VectorXd y = sx::to_eigen(b.y);
  ASSERT_EQ(y.size(), 5);
  EXPECT_TRUE(std::isinf(y(4)));
}

// ---------------------------------------------------------------------------------
// METIS example graphs (Debian libmetis-doc) through Matrix Market
// ---------------------------------------------------------------------------------

const char* const kMetisDir = "/usr/share/doc/libmetis-dev/examples/graphs";

TEST(MetisGraphReader, ParsesFormatVariants) {
  // Independent check of the test helper: vertex weights (fmt 010, ncon 2), edge weights (fmt 1).
  std::string dir = (fs::temp_directory_path() / "spartanxx-metis-XXXXXX").string();  // one per rank
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string p = dir + "/g.graph";
  std::ofstream(p) << "% comment\n3 2 011 2\n5 1 2 7\n1 1 1 7 3 4\n2 2 2 4\n";
  const auto g = spartanxx_test::read_metis_graph(p);
  EXPECT_EQ(g.n, 3);
  const SpMat a = g.matrix();
  expect_same(a, from_trips(3, 3, {Trip(0, 1, 7), Trip(1, 0, 7), Trip(1, 2, 4), Trip(2, 1, 4)}));
  std::ofstream(p) << "4 1\n2\n1\n\n\n";  // isolated vertices are empty lines
  const auto h = spartanxx_test::read_metis_graph(p);
  expect_same(h.matrix(), from_trips(4, 4, {Trip(0, 1, 1), Trip(1, 0, 1)}));
  fs::remove_all(dir);
}

TEST_F(MetisIo, GraphsRoundTripMultiplyAndReduce) {
  if (!fs::is_directory(kMetisDir)) GTEST_SKIP() << kMetisDir << " is missing (apt-get install libmetis-doc)";
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kMetisDir)) {
    const auto ext = e.path().extension().string();
    if (ext == ".graph" || ext == ".mgraph") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    const auto g = spartanxx_test::read_metis_graph(f);
    const SpMat want = g.matrix();
    const auto a = build(g.n, g.n, g.triplets);
    const std::string p = path(fs::path(f).stem().string() + ".mtx");
    sx::io::write_matrix_market(p, a);
    const auto b = sx::io::read_matrix_market(p);
    EXPECT_EQ(b.shape(), (sx::Shape{g.n, g.n}));
    EXPECT_EQ(sx::nnz(b), 2 * g.m);
    EXPECT_EQ(want.nonZeros(), 2 * g.m);
    expect_same(sx::to_eigen_sparse(b), want);
    const Eigen::VectorXd x = spartanxx_test::test_matrix(g.n, 1, 99, -1, 1);
    const Eigen::MatrixXd ax = sx::to_eigen(sx::dot(b, sx::from_eigen(x)));
    const Eigen::VectorXd ref = want * x;
    ASSERT_EQ(ax.rows(), g.n);
    double worst = 0;
    for (Eigen::Index i = 0; i < g.n; ++i) worst = std::max(worst, std::abs(ax(i, 0) - ref(i)));
    EXPECT_LE(worst, 1e-12) << "A x differs from Eigen's";
    // Reduced: degrees (row sums), column sums, the largest entry; and Aᵀ x.
    const Eigen::MatrixXd dense_sum = sx::to_eigen(sx::sum(b, 1));
    const Eigen::MatrixXd col_sum = sx::to_eigen(sx::sum(b, 0));
    const Eigen::MatrixXd atx = sx::to_eigen(sx::dot(b.T(), sx::from_eigen(x)));
    const Eigen::VectorXd ones = Eigen::VectorXd::Ones(g.n);
    const Eigen::VectorXd row_ref = want * ones, col_ref = want.transpose() * ones, atx_ref = want.transpose() * x;
    for (Eigen::Index i = 0; i < g.n; ++i) {
      ASSERT_DOUBLE_EQ(dense_sum(i, 0), row_ref(i)) << "row " << i;
      ASSERT_DOUBLE_EQ(col_sum(i, 0), col_ref(i)) << "column " << i;
      ASSERT_NEAR(atx(i, 0), atx_ref(i), 1e-12) << "row " << i << " of A^T x";
    }
    EXPECT_DOUBLE_EQ(sx::max(b).item(), want.coeffs().maxCoeff());
    EXPECT_EQ(sx::count_nonzero(b).item(), static_cast<double>(want.nonZeros()));
    if (world_rank() == 0) fs::remove(p);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

}  // namespace

namespace {

/// Every rank's lines gathered in rank order (each rank's lines joined with '\n', sizes
/// gathered), to compare with the file's lines split here.
std::vector<std::string> gather_lines(const sx::io::TextLines& t) {
  std::string mine;
  for (const auto& l : t.lines) mine += l, mine += '\n';
  int len = static_cast<int>(mine.size());
  const int P = world_size();
  std::vector<int> lens(static_cast<std::size_t>(P)), displs(static_cast<std::size_t>(P), 0);
  MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
  for (int r = 1; r < P; ++r) displs[static_cast<std::size_t>(r)] = displs[static_cast<std::size_t>(r - 1)] + lens[static_cast<std::size_t>(r - 1)];
  std::string all(static_cast<std::size_t>(displs.back() + lens.back()), '\0');
  MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, MPI_COMM_WORLD);
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < all.size()) {
    const std::size_t nl = all.find('\n', at);
    out.push_back(all.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

/// The lines of `text` as the reader defines them: split at '\n', a last line without
/// '\n' kept, a trailing '\r' removed.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    std::string l = text.substr(at, nl - at);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(l);
    at = nl + 1;
  }
  return out;
}

}  // namespace

TEST_F(TextLines, PlainAndGzipFilesGiveTheFileLinesInOrder) {
  std::string big(3 << 20, 'x');  // a 3 MB line
  for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  const std::vector<std::string> texts = {
      "",
      "\n",
      "one line without newline",
      "a\nb\r\n\n\nlast",
      "label\tsome text\n0\tmore text\n1\t\xc3\xa9t\xc3\xa9 \xff\xfe invalid utf-8\n",
      std::string("x\n") + big + "\ny\n" + big.substr(0, 1000) + "\n",
  };
  int k = 0;
  for (const std::string& text : texts) {
    const std::vector<std::string> want = split_lines(text);
    const std::string plain = write_file("t" + std::to_string(k) + ".txt", text);
    const std::string gz = path("t" + std::to_string(k) + ".txt.gz");
    if (world_rank() == 0) {
      gzFile f = gzopen(gz.c_str(), "wb");
      ASSERT_NE(f, nullptr);
      if (!text.empty()) EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
      gzclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    for (const std::string& p : {plain, gz}) {
      const sx::io::TextLines t = sx::io::read_text_lines(p);
      EXPECT_EQ(t.total_lines, static_cast<std::int64_t>(want.size())) << p;
      std::int64_t first = 0, mine = static_cast<std::int64_t>(t.lines.size());
      MPI_Exscan(&mine, &first, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
      if (world_rank() == 0) first = 0;
      EXPECT_EQ(t.first_line, first) << p;
      EXPECT_EQ(gather_lines(t), want) << p;
    }
    ++k;
  }
}

TEST_F(TextLines, MissingAndCorruptFilesRaiseOnEveryRank) {
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(path("absent.txt")); },
                                             {"read_text_lines", "absent.txt"});
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(path("absent.txt.gz")); },
                                             {"read_text_lines", "absent.txt.gz"});
  std::string bad("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage that is not deflate data", 40);
  const std::string p = write_file("bad.txt.gz", bad);
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(p); }, {"read_text_lines", "bad.txt.gz", "gzip"});
}

namespace {

/// `text` gzip-compressed in memory (one member).
std::string gzip_bytes(const std::string& text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, static_cast<uLong>(text.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

// A gzip stream must end with its trailer: truncated files (at any cut, the trailer or
// the data), trailing garbage and non-gzip bytes are io_errors naming the file and the
// byte offset on every rank; concatenated members are one stream (as gzip -d reads them).
TEST_F(TextLines, GzipStreamsAreVerifiedToTheirEnd) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += fmt::format("{}\tline {} of the test text {}\n", i % 2, i, i * 7919 % 1000);
  const std::string gz = gzip_bytes(text);
  ASSERT_GT(gz.size(), 1000U);

  const std::string two = write_file("two.txt.gz", gz + gzip_bytes("and a second member\n"));
  const sx::io::TextLines t = sx::io::read_text_lines(two);
  EXPECT_EQ(t.total_lines, 20001);
  auto want = split_lines(text);
  want.push_back("and a second member");
  EXPECT_EQ(gather_lines(t), want);

  for (std::size_t cut : {gz.size() / 2, gz.size() - 4, gz.size() - 1, std::size_t{5}}) {
    const std::string p = write_file(fmt::format("cut{}.txt.gz", cut), gz.substr(0, cut));
    spartanxx_test::expect_error<sx::io_error>(
        [&] { sx::io::read_text_lines(p); },
        {"read_text_lines", p, cut > 10 ? "truncated" : "", fmt::format("at byte {} of {}", cut, cut)});
  }
  const std::string garbage = write_file("garbage.txt.gz", gz + "trailing text");
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(garbage); },
                                             {garbage, "trailing bytes", fmt::format("at byte {}", gz.size())});
  const std::string plain = write_file("plain.txt.gz", "a plain text file\nnamed .gz\n");
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(plain); },
                                             {plain, "not a gzip file", "at byte 0"});
  const std::string empty = write_file("empty.txt.gz", "");
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(empty); }, {empty, "empty file"});
  std::string flipped = gz;
  flipped[gz.size() - 6] = static_cast<char>(flipped[gz.size() - 6] ^ 0x40);  // the CRC-32
  const std::string crc = write_file("crc.txt.gz", flipped);
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::read_text_lines(crc); }, {crc, "corrupt gzip data"});
}

namespace {

/// Every rank's documents gathered in rank order as "label|term term ..." strings.
std::vector<std::string> gather_documents(const spartanxx::ml::Documents& d) {
  sx::io::TextLines t;
  for (std::size_t k = 0; k < d.terms.size(); ++k) {
    std::string s = fmt::format("{}|{}", d.labels[k], d.index[k]);
    for (const auto& term : d.terms[k]) s += " " + term;
    t.lines.push_back(s);
  }
  return gather_lines(t);
}

}  // namespace

TEST_F(Documents, LabeledLinesTokenizedInOrderWithCounters) {
  const std::string text =
      "1\tFree MONEY now\r\n"
      "\n"
      "0\tmeeting at noon\n"
      "0\t   \n"
      "1\tcaf\xc3\xa9 \xff\xfe prize\n"
      "   \n"
      "0\ta  b\n"
      "1.0\tlast line";
  const std::string p = write_file("docs.tsv", text);
  const auto d = spartanxx::ml::read_labeled_documents(p, spartanxx::ml::tokenize);
  EXPECT_EQ(d.total, 5);
  EXPECT_EQ(d.empty_lines, 3);
  EXPECT_EQ(d.invalid_utf8, 1);
  const std::vector<std::string> want = {"1|0 free money now", "0|1 meeting at noon",
                                         "1|2 caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd prize", "0|3 a  b", "1|4 last line"};
  EXPECT_EQ(gather_documents(d), want);
  // One document per line, the label given.
  const std::string q = write_file("spam.txt", "Win a prize\n\nclick here\n");
  const auto s = spartanxx::ml::read_documents(q, 1.0, spartanxx::ml::RegexTokenizer());
  EXPECT_EQ(s.total, 2);
  EXPECT_EQ(s.empty_lines, 1);
  EXPECT_EQ(gather_documents(s), (std::vector<std::string>{"1|0 win a prize", "1|1 click here"}));
}

TEST_F(Documents, BadLabelsRaiseOnEveryRankWithTheLine) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "1\tsome words here\n";
  const std::string bad_label = write_file("bad1.tsv", text + "spam\tnot a number\n" + text);
  spartanxx_test::expect_error<sx::io_error>([&] { spartanxx::ml::read_labeled_documents(bad_label, spartanxx::ml::tokenize); },
                                             {"bad1.tsv", "line 41", "label \"spam\" is not a number"});
  const std::string no_tab = write_file("bad2.tsv", text + text + "0 no tab here\n");
  spartanxx_test::expect_error<sx::io_error>([&] { spartanxx::ml::read_labeled_documents(no_tab, spartanxx::ml::tokenize); },
                                             {"bad2.tsv", "line 81", "no tab"});
  spartanxx_test::expect_error<sx::io_error>(
      [&] { spartanxx::ml::read_documents(path("absent.txt"), 0.0, spartanxx::ml::tokenize); }, {"absent.txt"});
}

// Without a tokenizer the documents keep their (repaired) text; lines, bytes and long
// lines are counted; labels outside {0, 1} raise value_error naming the file and line.
TEST_F(Documents, TextsLinesAndLabelChecks) {
  std::string big(std::size_t{1} << 21, 'w');  // a 2 MiB document
  for (std::size_t i = 5; i < big.size(); i += 6) big[i] = ' ';
  const std::string text = "1\tFree MONEY\n\n0\t" + big + "\n1\tbad \xff byte\n0\tlast";
  const std::string p = write_file("texts.tsv", text);
  const auto d = spartanxx::ml::read_labeled_documents(p, nullptr);
  EXPECT_EQ(d.total, 4);
  EXPECT_EQ(d.long_lines, 1);
  EXPECT_EQ(d.invalid_utf8, 1);
  EXPECT_EQ(d.bytes, static_cast<std::int64_t>(text.size()) - 4);  // without the 4 line ends
  EXPECT_TRUE(d.terms.empty());
  sx::io::TextLines t;
  for (std::size_t k = 0; k < d.texts.size(); ++k)
    t.lines.push_back(fmt::format("{}|{}|{}", d.line[k], d.labels[k], d.texts[k].size() > 100 ? "big" : d.texts[k]));
  EXPECT_EQ(gather_lines(t), (std::vector<std::string>{"1|1|Free MONEY", "3|0|big", "4|1|bad \xef\xbf\xbd byte", "5|0|last"}));
  spartanxx::ml::check_binary_labels(d, p);  // all 0 or 1: nothing thrown
  std::string many;
  for (int i = 0; i < 50; ++i) many += (i == 37 ? "2" : std::to_string(i % 2)) + "\tword\n";
  const std::string q = write_file("labels.tsv", many);
  const auto e = spartanxx::ml::read_labeled_documents(q, spartanxx::ml::tokenize);
  spartanxx_test::expect_error<sx::value_error>([&] { spartanxx::ml::check_binary_labels(e, q); },
                                                {"labels.tsv", "line 38", "label 2", "0 or 1"});
}

// Every rank's text lands in one file in rank order (some ranks write nothing); a path
// that cannot be written raises io_error on every rank and leaves nothing behind.
TEST_F(WriteText, RankOrderAndNothingHalfWritten) {
  const int me = world_rank(), P = world_size();
  std::string mine;
  if (me != 1)
    for (int k = 0; k <= me * 3; ++k) mine += fmt::format("rank {} line {}\n", me, k);
  std::string want;
  for (int r = 0; r < P; ++r)
    if (r != 1)
      for (int k = 0; k <= r * 3; ++k) want += fmt::format("rank {} line {}\n", r, k);
  const std::string p = path("out.tsv");
  sx::io::write_text(p, mine);
  std::ifstream in(p, std::ios::binary);
  const std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, want);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto before = listing();
  spartanxx_test::expect_error<sx::io_error>([&] { sx::io::write_text(path("no/such/dir/x.tsv"), mine); },
                                             {"write_text", "no/such/dir/x.tsv"});
  EXPECT_EQ(listing(), before);
}

// from_rank_parts: the ranks' values in rank order (uneven parts, some empty).
TEST(RankParts, VectorFromEveryRanksValues) {
  const int me = world_rank(), P = world_size();
  std::vector<double> mine;
  for (int k = 0; k < (me == 0 ? 0 : 2 * me + 1); ++k) mine.push_back(100.0 * me + k);
  std::vector<double> all;
  for (int r = 1; r < P; ++r)
    for (int k = 0; k < 2 * r + 1; ++k) all.push_back(100.0 * r + k);
  const sx::Array v = sx::from_rank_parts(mine);
  ASSERT_EQ(v.shape(), (sx::Shape{static_cast<std::int64_t>(all.size())}));
  const Eigen::VectorXd got = sx::to_eigen(v);
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(got(static_cast<Eigen::Index>(i)), all[i]);
  EXPECT_NEAR(sx::sum(v).item(), std::accumulate(all.begin(), all.end(), 0.0), 1e-9);
}

// sparse_from_local_rows: each rank's CSR rows in rank order, kept where they were made;
// unsorted rows with repeated columns are sorted and summed; bad input raises on every rank.
TEST(RankParts, SparseFromLocalRows) {
  const int me = world_rank(), P = world_size();
  const std::int64_t m = 7;
  // Rank r makes r + 1 rows (rank 1 none); row i of the whole matrix holds columns
  // (i * 3 + j) % m for j < i % 4, with value i + j, given in descending order on odd ranks.
  auto rows_of = [](int r) { return r == 1 ? 0 : r + 1; };
  std::int64_t first = 0, n = 0;
  for (int r = 0; r < P; ++r) n += rows_of(r);
  for (int r = 0; r < me; ++r) first += rows_of(r);
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(n, m);
  std::vector<std::int64_t> row_ptr{0}, cols;
  std::vector<double> vals;
  for (std::int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < i % 4; ++j) want(i, (i * 3 + j) % m) += static_cast<double>(i + j);
    std::int64_t lowest = m;
    for (int j = 0; j < i % 4; ++j) lowest = std::min(lowest, (i * 3 + j) % m);
    if (lowest < m && i % 5 == 0) want(i, lowest) += 0.5;  // the repeated column below
  }
  for (std::int64_t i = first; i < first + rows_of(me); ++i) {
    std::vector<std::pair<std::int64_t, double>> e;
    for (int j = 0; j < i % 4; ++j) e.emplace_back((i * 3 + j) % m, static_cast<double>(i + j));
    std::sort(e.begin(), e.end());
    if (me % 2 == 1) std::reverse(e.begin(), e.end());
    if (!e.empty() && i % 5 == 0) e.emplace_back(me % 2 == 1 ? e.back().first : e[0].first, 0.5);  // the lowest column again
    for (const auto& [c, v] : e) cols.push_back(c), vals.push_back(v);
    row_ptr.push_back(static_cast<std::int64_t>(cols.size()));
  }
  const sx::Array a = sx::sparse_from_local_rows(m, row_ptr, cols, vals);
  ASSERT_EQ(a.shape(), (sx::Shape{n, m}));
  EXPECT_TRUE(a.is_sparse());
  spartanxx_test::expect_mat_near(sx::to_eigen(a), want);
  spartanxx_test::expect_mat_near(sx::to_eigen(sx::dot(a, sx::ones({m}))), want.rowwise().sum());
  // A column out of range on the last rank only: every rank throws.
  std::vector<std::int64_t> bad_cols = cols;
  if (me == P - 1 && !bad_cols.empty()) bad_cols.back() = m;
  if (me == P - 1 && bad_cols.empty()) row_ptr = {0, 1}, bad_cols = {m}, vals = {1.0};
  spartanxx_test::expect_error<sx::index_error>([&] { sx::sparse_from_local_rows(m, row_ptr, bad_cols, vals); },
                                                {"sparse_from_local_rows", "outside [0, 7)"});
  spartanxx_test::expect_error<sx::value_error>([&] { sx::sparse_from_local_rows(m, {0, 2}, {1}, {1.0}); },
                                                {"sparse_from_local_rows", "row_ptr ends at 2"});
}

TEST(TrainTestSplit, SeededFractionIndependentOfRanks) {
  std::int64_t in = 0;
  const std::int64_t n = 20000;
  for (std::int64_t i = 0; i < n; ++i) in += spartanxx::ml::in_training_split(7, i, 0.75);
  EXPECT_NEAR(static_cast<double>(in) / n, 0.75, 3 * std::sqrt(0.75 * 0.25 / n));
  std::int64_t same = 0, other_seed = 0;
  for (std::int64_t i = 0; i < 1000; ++i) {
    same += spartanxx::ml::in_training_split(7, i, 0.75) == spartanxx::ml::in_training_split(7, i, 0.75);
    other_seed += spartanxx::ml::in_training_split(7, i, 0.5) != spartanxx::ml::in_training_split(8, i, 0.5);
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(other_seed, 400);  // another seed gives another split
  EXPECT_FALSE(spartanxx::ml::in_training_split(7, 3, 0.0));
  EXPECT_TRUE(spartanxx::ml::in_training_split(7, 3, 1.0));
}

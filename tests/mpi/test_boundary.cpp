// The boundary between the graph and materialized data (expr/boundary.hpp) and the
// public collectives of Runtime: a lazy source reads, on each rank, only its own tiles
// of the layout the plan chose; leaves made from a rank's data come back as they went
// in; failures on one rank are thrown on every rank.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "mpi/test_support.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace tl = spartanxx::tiling;
using spartanxx_test::expect_error;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;

namespace {

double value_at(std::int64_t i, std::int64_t j) { return static_cast<double>(i * 1000 + j) + 0.25; }

/// A (rows, cols) float64 source whose element (i, j) is value_at(i, j); it records each
/// layout it is asked for and the boxes this rank read, and fails on `failing_rank`.
class Recording : public sx::detail::LazySource {
 public:
  explicit Recording(std::int64_t rows, std::int64_t cols, int failing_rank = -1)
      : rows_(rows), cols_(cols), failing_rank_(failing_rank) {}
  std::string label() const override { return "read recording"; }
  sx::detail::DistArray read(const tl::Layout& layout, sx::backend::Communicator& comm) const override {
    layouts.push_back(layout);
    sx::detail::DistArray out(layout, sx::DType::f64, comm.rank());
    comm.run_agreed([&] {
      if (comm.rank() == failing_rank_) throw sx::io_error("read recording: the disk is gone on this rank");
      for (auto& tile : out.tiles()) {
        boxes.push_back(tile.box);
        double* d = tile.data.as<double>();
        const std::int64_t w = tile.box.extent(1);
        for (std::int64_t i = tile.box.lo[0]; i < tile.box.hi[0]; ++i)
          for (std::int64_t j = tile.box.lo[1]; j < tile.box.hi[1]; ++j) d[(i - tile.box.lo[0]) * w + (j - tile.box.lo[1])] = value_at(i, j);
      }
    });
    return out;
  }
  mutable std::vector<tl::Layout> layouts;
  mutable std::vector<tl::Box> boxes;

 private:
  std::int64_t rows_, cols_;
  int failing_rank_;
};

bool near(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && (a.size() == 0 || (a - b).cwiseAbs().maxCoeff() < 1e-12);
}

Eigen::MatrixXd expected(std::int64_t rows, std::int64_t cols) {
  Eigen::MatrixXd m(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) m(i, j) = value_at(i, j);
  return m;
}

/// A materialized (rows, cols) array of ones split by columns.
sx::Array ones_by_columns(std::int64_t rows, std::int64_t cols) {
  const tl::Layout l = tl::Layout::cols({rows, cols}, world_size());
  sx::detail::DistArray d(l, sx::DType::f64, world_rank());
  for (auto& tile : d.tiles()) std::fill(tile.data.as<double>(), tile.data.as<double>() + tile.box.volume(), 1.0);
  return sx::detail::leaf(std::move(d));
}

}  // namespace

// Shape and dtype at once; nothing read until evaluated; then each rank reads exactly
// the tiles it holds, once, in the layout the plan chose.
TEST(Boundary, LazySourceReadsItsOwnTilesWhenEvaluated) {
  const std::int64_t n = 37, m = 5;
  auto src = std::make_shared<Recording>(n, m);
  const sx::Array a = sx::detail::lazy_leaf({n, m}, sx::DType::f64, src);
  EXPECT_EQ(a.shape(), (sx::Shape{n, m}));
  EXPECT_EQ(a.dtype(), sx::DType::f64);
  const sx::Array b = a * 2.0 + 1.0;
  EXPECT_TRUE(src->layouts.empty());
  EXPECT_NE(sx::explain(b).find("read recording"), std::string::npos) << sx::explain(b);
  EXPECT_TRUE(src->layouts.empty());  // explain plans, it does not read
  EXPECT_TRUE(near(sx::to_eigen(b), (expected(n, m).array() * 2 + 1).matrix()));
  ASSERT_EQ(src->layouts.size(), 1u);
  const tl::Layout& l = src->layouts[0];
  std::vector<tl::Box> mine;
  for (int t : l.tiles_of(world_rank())) mine.push_back(l.tile_box(t));
  EXPECT_EQ(src->boxes, mine);
  EXPECT_EQ(sx::last_evaluation_stats().comm.bytes_sent, 0);
}

// A consumer that holds its data by columns makes the source read columns: nothing
// moves. The same source read twice in one graph is read once.
TEST(Boundary, LazySourceReadsTheLayoutThePlanWants) {
  const std::int64_t n = 23, m = 2 * world_size() + 1;
  auto src = std::make_shared<Recording>(n, m);
  const sx::Array a = sx::detail::lazy_leaf({n, m}, sx::DType::f64, src);
  const sx::Array c = ones_by_columns(n, m);
  const sx::Array r = sx::exp(c * 0.0) * a + c - sx::detail::lazy_leaf({n, m}, sx::DType::f64, src);
  EXPECT_TRUE(near(sx::to_eigen(r), Eigen::MatrixXd::Ones(n, m)));
  ASSERT_EQ(src->layouts.size(), 1u) << sx::explain(r);
  EXPECT_EQ(src->layouts[0], tl::Layout::cols({n, m}, world_size())) << src->layouts[0].describe();
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, 0) << sx::explain(r);
  // Two sources of one shape are two reads.
  auto other = std::make_shared<Recording>(n, m);
  const sx::Array d = sx::detail::lazy_leaf({n, m}, sx::DType::f64, src) - sx::detail::lazy_leaf({n, m}, sx::DType::f64, other);
  EXPECT_EQ(sx::sum(sx::abs(d)).item(), 0.0);
  EXPECT_EQ(src->layouts.size(), 2u);
  EXPECT_EQ(other->layouts.size(), 1u);
}

// A read that fails on the last rank only throws the same io_error on every rank.
TEST(Boundary, LazySourceFailingOnOneRankFailsOnEvery) {
  const sx::Array a = sx::detail::lazy_leaf({9, 4}, sx::DType::f64, std::make_shared<Recording>(9, 4, world_size() - 1));
  expect_error<sx::io_error>([&] { sx::sum(a).item(); }, {"disk is gone", "rank"});
}

// Data a rank holds becomes a leaf and comes back unchanged, dense and sparse.
TEST(Boundary, LeavesAndDataOf) {
  const int P = world_size(), me = world_rank();
  const tl::Layout l({11}, {tl::even_splits(11, P)}, [&] {
    std::vector<int> owners(static_cast<std::size_t>(P));
    for (int r = 0; r < P; ++r) owners[static_cast<std::size_t>(r)] = P - 1 - r;  // reversed owners
    return owners;
  }());
  sx::detail::DistArray d(l, sx::DType::i64, me);
  for (auto& tile : d.tiles())
    for (std::int64_t i = tile.box.lo[0]; i < tile.box.hi[0]; ++i) tile.data.as<std::int64_t>()[i - tile.box.lo[0]] = i * i;
  const sx::Array a = sx::detail::leaf(d);
  EXPECT_TRUE(a.is_evaluated());
  EXPECT_EQ(a.dtype(), sx::DType::i64);
  EXPECT_EQ(sx::detail::data_of(a).layout(), l);
  const auto v = sx::to_vector<std::int64_t>(a);
  for (std::int64_t i = 0; i < 11; ++i) EXPECT_EQ(v[static_cast<std::size_t>(i)], i * i);
  sx::detail::Triplets t;
  if (me == 0) t.row = {0, 3, 3}, t.col = {1, 2, 2}, t.val = {1.5, 2.0, 0.5};  // a duplicate, summed
  const sx::Array s = sx::detail::sparse_leaf({4, 3}, std::move(t), sx::DType::f64);
  EXPECT_TRUE(s.is_sparse());
  EXPECT_EQ(sx::nnz(s), 2);
  Eigen::MatrixXd e = Eigen::MatrixXd::Zero(4, 3);
  e(0, 1) = 1.5, e(3, 2) = 2.5;
  EXPECT_TRUE(near(sx::to_eigen(s), e));
}

// The public collectives, against sums written out, at every rank count.
TEST(RuntimeCollectives, SumsScansAndGathers) {
  const sx::Runtime& rt = sx::Runtime::current();
  const int P = rt.size(), me = rt.rank();
  EXPECT_EQ(rt.sum(static_cast<std::int64_t>(me + 1)), static_cast<std::int64_t>(P) * (P + 1) / 2);
  std::vector<std::int64_t> v{me, 2 * me, -7, std::int64_t{1} << 40};
  rt.sum(v);
  const std::int64_t s = static_cast<std::int64_t>(P) * (P - 1) / 2;
  EXPECT_EQ(v, (std::vector<std::int64_t>{s, 2 * s, -7 * P, (std::int64_t{1} << 40) * P}));
  // Rank r holds r + 2 items: its first one is numbered sum over q < r of (q + 2).
  EXPECT_EQ(rt.exclusive_sum(me + 2), static_cast<std::int64_t>(me) * (me - 1) / 2 + 2 * me);
  const auto g = rt.gather(10 * me + 3);
  ASSERT_EQ(g.size(), static_cast<std::size_t>(P));
  for (int r = 0; r < P; ++r) EXPECT_EQ(g[static_cast<std::size_t>(r)], 10 * r + 3);
  rt.run_agreed([] {});  // nothing failed: nothing thrown
}

// run_agreed: the lowest failing rank's error, typed, on every rank; an error agreed
// before passes through unchanged.
TEST(RuntimeCollectives, ErrorsAreAgreedOnEveryRank) {
  const sx::Runtime& rt = sx::Runtime::current();
  const int P = rt.size(), me = rt.rank();
  expect_error<sx::value_error>(
      [&] {
        rt.run_agreed([&] {
          if (me == P - 1) throw sx::value_error("bad value on the last rank");
        });
      },
      {"bad value on the last rank", fmt::format("[rank {}]", P - 1)});
  if (P >= 2) {
    // The lowest failing rank wins, with its own type.
    expect_error<std::out_of_range>(
        [&] {
          rt.run_agreed([&] {
            if (me >= 1) throw std::out_of_range(fmt::format("out of range on rank {}", me));
          });
        },
        {"[rank 1] out of range on rank 1"});
  }
  expect_error<sx::io_error>(
      [&] {
        try {
          rt.run_agreed([&] {
            if (me == 0) throw sx::io_error("first");
          });
        } catch (...) {
          rt.agree(std::current_exception());  // already agreed: thrown again as it is
        }
      },
      {"[rank 0] first"});
}

// Errors: every mistake is thrown on EVERY rank, at the call that causes it, as the
// right typed exception, with a message that names the operation and the shapes.
// After each expected throw a small collective computation runs, so that a rank that
// did not throw (or threw later, or hung in a collective) desynchronizes the ranks and
// the test deadlocks or fails instead of passing quietly.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <Eigen/Core>

#include "spartanxx/spartanxx.hpp"
#include "mpi/test_support.hpp"

namespace sx = spartanxx;

namespace {

using spartanxx_test::expect_error;
using sx::DType;
using sx::Range;
using sx::Shape;

// A collective round trip through spartanxx: every rank must get here.
sx::Array mat75() {
  Eigen::MatrixXd m(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) m(i, j) = i - 2.0 * j;
  return sx::from_eigen(m);
}

// ---------------------------------------------------------------------------------
// Broadcasting
// ---------------------------------------------------------------------------------

TEST(Errors, BroadcastMismatch) {
  auto a = mat75();
  auto v4 = sx::ones({4});
  expect_error<sx::shape_error>([&] { a + v4; }, {"(7, 5)", "(4,)", "add|+"});
  expect_error<sx::shape_error>([&] { sx::add(v4, a); }, {"(7, 5)", "(4,)", "add|+"});
  expect_error<sx::shape_error>([&] { a* sx::ones({7, 4}); }, {"(7, 5)", "(7, 4)", "multiply|*"});
  expect_error<sx::shape_error>([&] { a - sx::ones({7}); }, {"(7, 5)", "(7,)", "subtract|-"});
  expect_error<sx::shape_error>([&] { a / sx::ones({5, 5}); }, {"(7, 5)", "(5, 5)", "divide|/"});
  expect_error<sx::shape_error>([&] { sx::ones({3, 4, 5}) + sx::ones({3, 4}); }, {"(3, 4, 5)", "(3, 4)"});
  expect_error<sx::shape_error>([&] { sx::zeros({0, 3}) + sx::ones({2, 3}); }, {"(0, 3)", "(2, 3)"});
  expect_error<sx::shape_error>([&] { (void)(a < v4); }, {"(7, 5)", "(4,)", "less|<"});
  expect_error<sx::shape_error>([&] { sx::maximum(a, v4); }, {"(7, 5)", "(4,)", "maximum"});
  expect_error<sx::shape_error>([&] { sx::power(a, v4); }, {"(7, 5)", "(4,)", "power|pow"});
  expect_error<sx::shape_error>([&] { sx::logical_and(a > 0.0, v4 > 0.0); },
                                {"(7, 5)", "(4,)", "logical_and|&&"});
  expect_error<sx::shape_error>([&] { sx::where(a > 0.0, a, v4); }, {"(7, 5)", "(4,)", "where"});
  expect_error<sx::shape_error>([&] { sx::where(v4 > 0.0, a, 1.0); }, {"(7, 5)", "(4,)", "where"});
  expect_error<sx::shape_error>([&] { sx::clip(a, v4, sx::full({}, 1.0)); },
                                {"(7, 5)", "(4,)", "clip|maximum"});
  // The operands themselves are still usable.
  EXPECT_EQ(sx::sum(a + a).item(), 2 * sx::sum(a).item());
}

// ---------------------------------------------------------------------------------
// dot / matmul
// ---------------------------------------------------------------------------------

TEST(Errors, DotMisaligned) {
  auto a = mat75();
  expect_error<sx::shape_error>([&] { sx::dot(a, sx::ones({4})); }, {"dot", "(7, 5)", "(4,)"});
  expect_error<sx::shape_error>([&] { sx::dot(a, a); }, {"dot", "(7, 5)"});
  expect_error<sx::shape_error>([&] { sx::dot(sx::ones({5}), sx::ones({7})); }, {"dot", "(5,)", "(7,)"});
  expect_error<sx::shape_error>([&] { sx::dot(sx::ones({4}), a); }, {"dot", "(4,)", "(7, 5)"});
  expect_error<sx::shape_error>([&] { sx::dot(a.T(), sx::ones({5, 3})); }, {"dot", "(5, 7)", "(5, 3)"});
  expect_error<sx::shape_error>([&] { sx::matmul(a, sx::ones({4, 3})); }, {"matmul", "(7, 5)", "(4, 3)"});
  expect_error<sx::shape_error>(
      [&] {
        sx::matmul(sx::ones({13}), sx::ones({1, 9}));
      },
      {"matmul", "(13,)", "(1, 9)"});
  // 0-d operands are an error for matmul, as in NumPy.
  expect_error<std::invalid_argument>([&] { sx::matmul(sx::full({}, 2.0), a); }, {"matmul", "()", "(7, 5)"});
}

// ---------------------------------------------------------------------------------
// Axes
// ---------------------------------------------------------------------------------

TEST(Errors, InvalidAxis) {
  auto a = mat75();
  expect_error<sx::axis_error>([&] { sx::sum(a, 2); }, {"sum", "2", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::sum(a, -3); }, {"sum", "-3", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::mean(a, 2); }, {"mean", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::min(a, -3); }, {"min", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::max(a, 5); }, {"max", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::argmin(a, 2); }, {"argmin", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::argmax(a, -3); }, {"argmax", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::count_nonzero(a, 2); }, {"count_nonzero", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::norm(a, 2); }, {"norm", "(7, 5)"});
  expect_error<sx::axis_error>([&] { sx::sum(sx::ones({13}), 1); }, {"sum", "(13,)"});
  expect_error<sx::axis_error>([&] { sx::sum(sx::ones({3, 5, 7}), 3); }, {"sum", "(3, 5, 7)"});
  expect_error<sx::axis_error>([&] { sx::sum(sx::full({}, 1.0), 0); }, {"sum", "()"});
  expect_error<sx::axis_error>([&] { a.transpose({0, 2}); }, {"transpose", "(7, 5)"});
  // Valid negative axes still work.
  EXPECT_EQ(sx::sum(a, -2).shape(), (Shape{5}));
  EXPECT_EQ(sx::sum(a, -1).shape(), (Shape{7}));
}

TEST(Errors, TransposeAxesMismatch) {
  auto a = mat75();
  expect_error<std::invalid_argument>([&] { a.transpose({0}); }, {"transpose", "(7, 5)"});
  expect_error<std::invalid_argument>([&] { a.transpose({1, 1}); }, {"transpose"});
  expect_error<std::invalid_argument>([&] { sx::ones({3, 5, 7}).transpose({0, 1, 2, 3}); }, {"transpose"});
}

// ---------------------------------------------------------------------------------
// Slicing
// ---------------------------------------------------------------------------------

TEST(Errors, SliceOutOfRange) {
  auto a = mat75();
  expect_error<sx::index_error>([&] { a.slice({Range{0, 100}}); }, {"slice", "100", "(7, 5)"});
  expect_error<sx::index_error>([&] { a.slice({Range{-8, 3}}); }, {"slice", "-8", "(7, 5)"});
  expect_error<sx::index_error>([&] { a.slice({Range::all(), Range{0, 6}}); }, {"slice", "6", "(7, 5)"});
  expect_error<sx::index_error>(
      [&] {
        sx::ones({13}).slice({Range{14, std::nullopt}});
      },
      {"slice", "14", "(13,)"});
  // More ranges than axes.
  expect_error<sx::index_error>(
      [&] {
        a.slice({Range::all(), Range::all(), Range::all()});
      },
      {"slice", "(7, 5)"});
  // Bounds of exactly -n and n are allowed.
  EXPECT_EQ(a.slice({Range{-7, 7}}).shape(), (Shape{7, 5}));
  EXPECT_EQ(a.slice({Range{7, std::nullopt}}).shape(), (Shape{0, 5}));
}

TEST(Errors, SliceStepZero) {
  auto a = mat75();
  expect_error<sx::value_error>([&] { a.slice({Range{0, 7, 0}}); }, {"slice", "step"});
  expect_error<sx::value_error>(
      [&] {
        a.slice({Range::all(), Range{std::nullopt, std::nullopt, 0}});
      },
      {"slice", "step"});
}

// ---------------------------------------------------------------------------------
// reshape
// ---------------------------------------------------------------------------------

TEST(Errors, ReshapeIncompatible) {
  auto a = mat75();
  expect_error<sx::shape_error>([&] { a.reshape({6, 6}); }, {"reshape", "(7, 5)", "(6, 6)"});
  expect_error<sx::shape_error>([&] { a.reshape({36}); }, {"reshape", "(7, 5)", "(36,)"});
  expect_error<sx::shape_error>([&] { a.reshape({-1, 4}); }, {"reshape", "(7, 5)"});
  expect_error<sx::shape_error>([&] { sx::zeros({0, 3}).reshape({1}); }, {"reshape", "(0, 3)", "(1,)"});
  expect_error<std::invalid_argument>([&] { a.reshape({-1, -1}); }, {"reshape"});
  expect_error<std::invalid_argument>([&] { a.reshape({-5, -7}); }, {"reshape"});
  // The compatible ones work.
  EXPECT_EQ(a.reshape({-1, 7}).shape(), (Shape{5, 7}));
  EXPECT_EQ(sx::zeros({0, 3}).reshape({3, -1, 5}).shape(), (Shape{3, 0, 5}));
}

// ---------------------------------------------------------------------------------
// dtypes
// ---------------------------------------------------------------------------------

TEST(Errors, DtypeNotAccepted) {
  auto b = mat75() > 0.0;  // bool
  // NumPy refuses the boolean negative and the boolean subtract.
  expect_error<sx::dtype_error>([&] { sx::negative(b); }, {"negative", "bool"});
  expect_error<sx::dtype_error>([&] { -b; }, {"negative", "bool"});
  expect_error<sx::dtype_error>([&] { sx::subtract(b, b); }, {"subtract", "bool", "(7, 5)"});
  expect_error<sx::dtype_error>([&] { b - sx::ones({5}, DType::boolean); }, {"subtract", "bool"});
  // The alternatives NumPy suggests work.
  EXPECT_EQ(sx::count_nonzero(sx::logical_not(b)).item(), 35 - sx::count_nonzero(b).item());
  EXPECT_EQ(sx::logical_not(b).dtype(), DType::boolean);
}

// ---------------------------------------------------------------------------------
// Empty arrays
// ---------------------------------------------------------------------------------

TEST(Errors, ReductionOfEmptyWithoutIdentity) {
  auto e = sx::zeros({0, 3});
  auto e1 = sx::zeros({0});
  expect_error<sx::value_error>([&] { sx::min(e); }, {"min", "(0, 3)"});
  expect_error<sx::value_error>([&] { sx::max(e); }, {"max", "(0, 3)"});
  expect_error<sx::value_error>([&] { sx::argmin(e); }, {"argmin", "(0, 3)"});
  expect_error<sx::value_error>([&] { sx::argmax(e1); }, {"argmax", "(0,)"});
  expect_error<sx::value_error>([&] { sx::min(e1); }, {"min", "(0,)"});
  // Along the empty axis too.
  expect_error<sx::value_error>([&] { sx::max(e, 0); }, {"max", "(0, 3)"});
  expect_error<sx::value_error>([&] { sx::argmin(e, 0); }, {"argmin", "(0, 3)"});
  // Along a non-empty axis of an empty array the result is just empty, as in NumPy.
  auto ok = sx::min(e, 1);
  EXPECT_EQ(ok.shape(), (Shape{0}));
  EXPECT_TRUE(sx::to_vector<double>(ok).empty());
  // Reductions with an identity are fine on empty arrays.
  EXPECT_EQ(sx::sum(e).item(), 0.0);
  EXPECT_EQ(sx::count_nonzero(e).item(), 0.0);
}

TEST(Errors, ItemOfNotOneElement) {
  expect_error<std::invalid_argument>([&] { sx::ones({7, 5}).item(); }, {"item", "(7, 5)"});
  expect_error<std::invalid_argument>([&] { sx::zeros({0}).item(); }, {"item", "(0,)"});
  expect_error<std::invalid_argument>([&] { (mat75() * 2.0).item(); }, {"item", "(7, 5)"});
  // One element in any number of dimensions is fine.
  EXPECT_EQ(sx::full({1, 1}, 2.0).item(), 2.0);
  EXPECT_EQ(sx::full({1}, 3.0).item(), 3.0);
  EXPECT_EQ(sx::full({1, 1, 1}, 4.0).item(), 4.0);
}

TEST(Errors, ToEigenOfMoreThanTwoDimensions) {
  expect_error<std::invalid_argument>([&] { sx::to_eigen(sx::ones({3, 5, 7})); }, {"(3, 5, 7)"});
}

TEST(Errors, NegativeDimension) {
  expect_error<std::invalid_argument>([&] { sx::zeros({3, -1}); }, {"(3, -1)|-1"});
  expect_error<std::invalid_argument>([&] { sx::random::uniform({-2}, 1); }, {"-2"});
}

// ---------------------------------------------------------------------------------
// An empty handle
// ---------------------------------------------------------------------------------

TEST(Errors, EmptyHandle) {
  sx::Array none;
  // std::invalid_argument derives from std::logic_error: either is accepted.
  expect_error<std::logic_error>([&] { none.shape(); }, {"empty|default"});
  expect_error<std::logic_error>([&] { none.dtype(); }, {});
  expect_error<std::logic_error>([&] { none.size(); }, {});
  expect_error<std::logic_error>([&] { none.evaluate(); }, {});
  expect_error<std::logic_error>([&] { none.item(); }, {});
  expect_error<std::logic_error>([&] { none.T(); }, {});
  expect_error<std::logic_error>([&] { none.reshape({1}); }, {});
  expect_error<std::logic_error>([&] { none + sx::ones({3}); }, {});
  expect_error<std::logic_error>([&] { sx::ones({3}) * none; }, {});
  expect_error<std::logic_error>([&] { sx::exp(none); }, {});
  expect_error<std::logic_error>([&] { sx::sum(none); }, {});
  expect_error<std::logic_error>([&] { sx::dot(none, sx::ones({3})); }, {});
  expect_error<std::logic_error>([&] { sx::zeros_like(none); }, {});
  expect_error<std::logic_error>([&] { sx::to_eigen(none); }, {});
  expect_error<std::logic_error>([&] { sx::to_vector<double>(none); }, {});
  expect_error<std::logic_error>([&] { (void)none.shape(); }, {"empty"});
}

// ---------------------------------------------------------------------------------
// The runtime survives a long run of errors
// ---------------------------------------------------------------------------------

TEST(Errors, StateIntactAfterErrors) {
  auto a = mat75();
  auto s = sx::sum(a);  // built before the errors, evaluated after
  for (int k = 0; k < 10; ++k) {
    expect_error<sx::shape_error>([&] { a + sx::ones({4}); }, {"(4,)"});
    expect_error<sx::axis_error>([&] { sx::sum(a, 7); }, {"sum"});
  }
  double expected = 0;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected += i - 2.0 * j;
  EXPECT_EQ(s.item(), expected);
  EXPECT_EQ(sx::sum(a * 0.0 + 1.0).item(), 35.0);
}

// ---------------------------------------------------------------------------------
// Errors only one rank sees are agreed on: every rank throws.
// ---------------------------------------------------------------------------------

// Rows [first, last) hold row 5 when first <= 5 < last; only the rank that produces
// row 5 fails, the others must learn of it instead of hanging.
void fail_on_row_5(std::int64_t first, std::int64_t last, double* out, bool typed) {
  if (first <= 5 && 5 < last) {
    if (typed) throw sx::io_error("bad line 6 in part-0003.txt");
    throw std::runtime_error("boom in row 5");
  }
  for (std::int64_t r = first; r < last; ++r)
    for (int c = 0; c < 3; ++c) out[(r - first) * 3 + c] = 1.0;
}

TEST(ErrorsCollective, FillFailsOnOneRank) {
  // A spartanxx error keeps its type on every rank.
  expect_error<sx::io_error>(
      [&] {
        auto a = sx::from_rows(
            {13, 3}, [](std::int64_t f, std::int64_t l, double* o) { fail_on_row_5(f, l, o, true); });
        sx::to_eigen(a);
      },
      {"bad line 6 in part-0003.txt"});
  // Any other failure arrives everywhere as a runtime_error (remote_error on the ranks
  // that did not fail) carrying the failing rank's message.
  expect_error<std::runtime_error>(
      [&] {
        auto a = sx::from_rows(
            {13, 3}, [](std::int64_t f, std::int64_t l, double* o) { fail_on_row_5(f, l, o, false); });
        (a * 2.0).evaluate();
      },
      {"boom in row 5"});
}

// Memory: an array larger than a rank may use fails before it is allocated, naming the
// operation and its shape; a std::bad_alloc on one rank arrives on every rank as
// memory_error with the operation, the shape and the rank.
TEST(ErrorsCollective, MemoryBeyondTheLimitAndBadAlloc) {
  sx::set_memory_limit(std::int64_t{100} << 20, "the test's limit");
  expect_error<sx::memory_error>(
      [&] {
        auto a = sx::zeros({200000, 1000}) + 1.0;  // 1.6 GB: at least 400 MB a rank at 4 ranks
        a.evaluate();
      },
      {"(200000, 1000) float64", "a buffer of", "needs about", "a rank may use 0.10 GB (the test's limit)"});
  sx::set_memory_limit(0);
  EXPECT_EQ(sx::sum(sx::ones({1000, 10})).item(), 10000.0);
  expect_error<sx::memory_error>(
      [&] {
        auto a = sx::from_rows({13, 3}, [](std::int64_t f, std::int64_t l, double* o) {
          if (f <= 5 && 5 < l) throw std::bad_alloc();
          for (std::int64_t k = 0; k < (l - f) * 3; ++k) o[k] = 1.0;
        });
        (a * 2.0).evaluate();
      },
      {"(13, 3) float64: out of memory (std::bad_alloc)", "[rank "});
  EXPECT_EQ(sx::parse_bytes("512M"), std::int64_t{512} << 20);
  EXPECT_EQ(sx::parse_bytes("1.5G"), std::int64_t{3} << 29);
  EXPECT_EQ(sx::parse_bytes("4096"), 4096);
  EXPECT_EQ(sx::parse_bytes("12Q"), -1);
  EXPECT_EQ(sx::parse_bytes("-1G"), -1);
  EXPECT_EQ(sx::parse_bytes(""), -1);
}

}  // namespace

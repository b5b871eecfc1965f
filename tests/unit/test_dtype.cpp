// Serial tests of include/spartanxx/dtype.hpp: sizes, names, kinds and NumPy's type
// promotion. The promotion table below is NumPy's np.promote_types for these dtypes.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "spartanxx/dtype.hpp"

namespace spartanxx {
namespace {

const std::vector<DType> kAll = {DType::boolean, DType::i32, DType::i64, DType::f32, DType::f64};

// Compile-time checks of dtype_of<T>: it is constexpr and maps storage types back.
static_assert(dtype_of<double>() == DType::f64, "dtype_of<double>");
static_assert(dtype_of<float>() == DType::f32, "dtype_of<float>");
static_assert(dtype_of<std::int64_t>() == DType::i64, "dtype_of<int64_t>");
static_assert(dtype_of<std::int32_t>() == DType::i32, "dtype_of<int32_t>");
static_assert(dtype_of<bool>() == DType::boolean, "dtype_of<bool>");
static_assert(dtype_of<std::uint8_t>() == DType::boolean, "dtype_of<uint8_t>: bool storage");

TEST(DType, Itemsize) {
  EXPECT_EQ(itemsize(DType::f32), 4u);
  EXPECT_EQ(itemsize(DType::f64), 8u);
  EXPECT_EQ(itemsize(DType::i32), 4u);
  EXPECT_EQ(itemsize(DType::i64), 8u);
  EXPECT_EQ(itemsize(DType::boolean), 1u);  // one byte per element, as NumPy
}

TEST(DType, ItemsizeMatchesCppType) {
  EXPECT_EQ(itemsize(dtype_of<double>()), sizeof(double));
  EXPECT_EQ(itemsize(dtype_of<float>()), sizeof(float));
  EXPECT_EQ(itemsize(dtype_of<std::int64_t>()), sizeof(std::int64_t));
  EXPECT_EQ(itemsize(dtype_of<std::int32_t>()), sizeof(std::int32_t));
  EXPECT_EQ(itemsize(dtype_of<std::uint8_t>()), sizeof(std::uint8_t));
}

TEST(DType, NamesLikeNumPy) {
  EXPECT_EQ(std::string(dtype_name(DType::f32)), "float32");
  EXPECT_EQ(std::string(dtype_name(DType::f64)), "float64");
  EXPECT_EQ(std::string(dtype_name(DType::i32)), "int32");
  EXPECT_EQ(std::string(dtype_name(DType::i64)), "int64");
  EXPECT_EQ(std::string(dtype_name(DType::boolean)), "bool");
}

TEST(DType, Kinds) {
  EXPECT_TRUE(is_floating(DType::f32));
  EXPECT_TRUE(is_floating(DType::f64));
  EXPECT_FALSE(is_floating(DType::i32));
  EXPECT_FALSE(is_floating(DType::i64));
  EXPECT_FALSE(is_floating(DType::boolean));

  EXPECT_TRUE(is_integer(DType::i32));
  EXPECT_TRUE(is_integer(DType::i64));
  EXPECT_FALSE(is_integer(DType::boolean));  // bool is its own kind
  EXPECT_FALSE(is_integer(DType::f32));
  EXPECT_FALSE(is_integer(DType::f64));
}

TEST(DType, PromoteTypesTable) {
  struct Row {
    DType a, b, want;
  };
  // np.promote_types(a, b)
  const std::vector<Row> table = {
      {DType::boolean, DType::boolean, DType::boolean},
      {DType::boolean, DType::i32, DType::i32},
      {DType::boolean, DType::i64, DType::i64},
      {DType::boolean, DType::f32, DType::f32},
      {DType::boolean, DType::f64, DType::f64},
      {DType::i32, DType::i32, DType::i32},
      {DType::i32, DType::i64, DType::i64},
      {DType::i32, DType::f32, DType::f64},  // float32 cannot hold every int32
      {DType::i32, DType::f64, DType::f64},
      {DType::i64, DType::i64, DType::i64},
      {DType::i64, DType::f32, DType::f64},
      {DType::i64, DType::f64, DType::f64},
      {DType::f32, DType::f32, DType::f32},
      {DType::f32, DType::f64, DType::f64},
      {DType::f64, DType::f64, DType::f64},
  };
  for (const Row& r : table) {
    EXPECT_EQ(promote_types(r.a, r.b), r.want) << dtype_name(r.a) << " + " << dtype_name(r.b);
    EXPECT_EQ(promote_types(r.b, r.a), r.want) << dtype_name(r.b) << " + " << dtype_name(r.a);
  }
  EXPECT_EQ(table.size(), kAll.size() * (kAll.size() + 1) / 2);  // every unordered pair once
}

TEST(DType, PromoteTypesAlgebra) {
  for (DType a : kAll) {
    EXPECT_EQ(promote_types(a, a), a) << dtype_name(a);
    for (DType b : kAll) {
      const DType ab = promote_types(a, b);
      EXPECT_EQ(ab, promote_types(b, a));
      // The result holds both operands: promoting it again with either changes nothing.
      EXPECT_EQ(promote_types(ab, a), ab);
      EXPECT_EQ(promote_types(ab, b), ab);
      EXPECT_GE(itemsize(ab), itemsize(a));
      EXPECT_GE(itemsize(ab), itemsize(b));
      if (is_floating(a) || is_floating(b)) {
        EXPECT_TRUE(is_floating(ab));
      }
      for (DType c : kAll) EXPECT_EQ(promote_types(promote_types(a, b), c), promote_types(a, promote_types(b, c)));
    }
  }
}

}  // namespace
}  // namespace spartanxx

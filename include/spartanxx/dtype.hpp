#pragma once
// Element types and NumPy's type promotion.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace spartanxx {

/// Element types. `boolean` is stored as one byte per element.
enum class DType { f32, f64, i32, i64, boolean };

/// Bytes per element.
std::size_t itemsize(DType t);
/// NumPy's name: "float32", "float64", "int32", "int64", "bool".
const char* dtype_name(DType t);
bool is_floating(DType t);
bool is_integer(DType t);  // int32, int64 (not bool)

/// NumPy's promotion of two array dtypes: promote_types(int32, float32) == float64.
DType promote_types(DType a, DType b);

/// The dtype of a C++ element type: dtype_of<float>() == DType::f32.
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::i32;
  else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::uint8_t>) return DType::boolean;
  else static_assert(sizeof(T) == 0, "dtype_of: spartanxx has no dtype for this C++ type");
}

}  // namespace spartanxx

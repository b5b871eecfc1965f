#include <stdexcept>

#include "spartanxx/dtype.hpp"

namespace spartanxx {

std::size_t itemsize(DType t) {
  switch (t) {
    case DType::f64: case DType::i64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::boolean: return 1;
  }
  throw std::invalid_argument("itemsize: unknown dtype");
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f64: return "float64";
    case DType::f32: return "float32";
    case DType::i64: return "int64";
    case DType::i32: return "int32";
    case DType::boolean: return "bool";
  }
  return "unknown";
}

bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
bool is_integer(DType t) { return t == DType::i32 || t == DType::i64; }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::boolean) return b;
  if (b == DType::boolean) return a;
  if (is_integer(a) && is_integer(b)) return DType::i64;
  if (is_floating(a) && is_floating(b)) return DType::f64;
  // One integer, one float: float32 cannot hold every int32/int64, so NumPy goes to float64.
  return DType::f64;
}

}  // namespace spartanxx

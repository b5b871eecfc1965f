#pragma once
// Typed storage of local data: a 64-byte-aligned byte buffer shared between views, and
// dispatch from a runtime dtype to its C++ storage type.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "spartanxx/dtype.hpp"

namespace spartanxx::detail {

/// C++ storage type of each dtype (bool is one byte).
template <DType D> struct storage;
template <> struct storage<DType::f64> { using type = double; };
template <> struct storage<DType::f32> { using type = float; };
template <> struct storage<DType::i64> { using type = std::int64_t; };
template <> struct storage<DType::i32> { using type = std::int32_t; };
template <> struct storage<DType::boolean> { using type = std::uint8_t; };

template <class T> struct type_tag { using type = T; };

/// Calls f(type_tag<T>{}) with T the storage type of `d`.
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f64: return f(type_tag<double>{});
    case DType::f32: return f(type_tag<float>{});
    case DType::i64: return f(type_tag<std::int64_t>{});
    case DType::i32: return f(type_tag<std::int32_t>{});
    case DType::boolean: break;
  }
  return f(type_tag<std::uint8_t>{});
}

/// Contiguous, 64-byte aligned, shareable (views of the same data share one buffer).
class Buffer {
 public:
  Buffer() = default;
  /// Uninitialized storage for `bytes` bytes; counts toward the temporaries statistic.
  explicit Buffer(std::size_t bytes);
  std::size_t bytes() const { return bytes_; }
  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  template <class T> T* as() { return reinterpret_cast<T*>(data_.get()); }
  template <class T> const T* as() const { return reinterpret_cast<const T*>(data_.get()); }
  /// Watches the data without keeping it alive (caches of derived data check it).
  std::weak_ptr<const std::byte> watch() const { return data_; }

  /// Bytes of buffers allocated on this rank since the program started.
  static std::int64_t allocated_total();
  /// Returns the freed blocks kept for reuse to the system (at most 1 GiB is kept;
  /// SPARTANXX_POOL_BYTES sets another cap, 0 turns the pool off).
  static void release_pool();

 private:
  std::shared_ptr<std::byte> data_;
  std::size_t bytes_ = 0;
};

}  // namespace spartanxx::detail

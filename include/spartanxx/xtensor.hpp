#pragma once
// Conversion between spartanxx arrays and xtensor, for N-d work.
#include <xtensor/xarray.hpp>

#include "spartanxx/array.hpp"
#include "spartanxx/creation.hpp"
#include "spartanxx/eigen.hpp"

namespace spartanxx {

/// An N-d array from an xtensor expression every rank passes whole.
///
///     xt::xarray<double> x = {{1, 2}, {3, 4}};
///     auto a = spartanxx::from_xtensor(x);
template <class E>
Array from_xtensor(const xt::xexpression<E>& e) {
  using T = typename E::value_type;
  const xt::xarray<T, xt::layout_type::row_major> x = e.derived_cast();
  const Shape shape(x.shape().begin(), x.shape().end());
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<std::uint8_t> bytes(x.begin(), x.end());
    return from_buffer(shape, DType::boolean, bytes.data());
  } else {
    return from_buffer(shape, dtype_of<T>(), x.data());
  }
}

/// The whole array on every rank (collective), converted to T.
template <class T = double>
xt::xarray<T> to_xtensor(const Array& a) {
  using Stored = std::conditional_t<std::is_same_v<T, bool>, std::uint8_t, T>;
  std::vector<Stored> v = to_vector<Stored>(a);
  std::vector<std::size_t> shape(a.shape().begin(), a.shape().end());
  xt::xarray<T> out(shape);
  std::copy(v.begin(), v.end(), out.begin());
  return out;
}

}  // namespace spartanxx

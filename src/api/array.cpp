// The public Array handle and conversions out of spartanxx.
#include <fmt/format.h>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "expr/build.hpp"
#include "expr/executor.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx {

namespace detail {
Array transpose_impl(const Array& a, std::vector<int> perm);
Array slice_impl(const Array& a, const std::vector<Range>& ranges);
Array reshape_impl(const Array& a, const Shape& shape);
Array astype_impl(const Array& a, DType dtype);
}  // namespace detail

const detail::Node& Array::checked() const { return *detail::node_of(*this, "Array"); }
const Shape& Array::shape() const { return checked().shape; }
DType Array::dtype() const { return checked().dtype; }
std::int64_t Array::size() const { return tiling::volume(checked().shape); }
bool Array::is_sparse() const { return checked().sparse; }
Array Array::todense() const { return spartanxx::todense(*this); }
Array Array::to_sparse() const { return spartanxx::to_sparse(*this); }
bool Array::is_evaluated() const { return checked().result != nullptr; }

const Array& Array::evaluate() const {
  detail::evaluate(detail::node_of(*this, "evaluate"));
  return *this;
}

Array Array::T() const {
  std::vector<int> perm(static_cast<std::size_t>(ndim()));
  for (int i = 0; i < ndim(); ++i) perm[i] = ndim() - 1 - i;
  return detail::transpose_impl(*this, perm);
}

Array Array::transpose(const std::vector<int>& axes) const { return detail::transpose_impl(*this, axes); }
Array Array::astype(DType dtype) const { return detail::astype_impl(*this, dtype); }
Array Array::reshape(const Shape& shape) const { return detail::reshape_impl(*this, shape); }
Array Array::slice(const std::vector<Range>& ranges) const { return detail::slice_impl(*this, ranges); }

double Array::item() const {
  if (size() != 1)
    throw value_error(fmt::format("item: can only convert an array of size 1 to a scalar, got shape {}",
                                  tiling::to_string(shape())));
  return to_vector<double>(*this)[0];
}

template <class T>
std::vector<T> to_vector(const Array& a) {
  detail::node_of(a, "to_vector");
  const detail::DistArray& data = detail::data_of(a);
  auto& comm = detail::context_comm();
  std::vector<T> out;
  comm.run_agreed([&] { out.resize(static_cast<std::size_t>(a.size())); });  // a rank short of memory is heard
  const detail::Buffer whole = detail::gather_whole(data, comm);
  detail::convert(whole.data(), data.dtype(), reinterpret_cast<std::byte*>(out.data()), dtype_of<T>(), out.size());
  return out;
}

template std::vector<double> to_vector<double>(const Array&);
template std::vector<float> to_vector<float>(const Array&);
template std::vector<std::int64_t> to_vector<std::int64_t>(const Array&);
template std::vector<std::int32_t> to_vector<std::int32_t>(const Array&);
template std::vector<std::uint8_t> to_vector<std::uint8_t>(const Array&);

Eigen::MatrixXd to_eigen(const Array& a) {
  if (a.ndim() > 2)
    throw shape_error(fmt::format("to_eigen: an array of {} dimensions (shape {}) is not a matrix; use to_xtensor",
                                  a.ndim(), tiling::to_string(a.shape())));
  Eigen::MatrixXd out;
  const Eigen::Index rows = a.ndim() >= 1 ? a.shape()[0] : 1, cols = a.ndim() == 2 ? a.shape()[1] : 1;
  detail::context_comm().run_agreed([&] { out.resize(rows, cols); });  // a rank short of memory is heard
  const std::vector<double> v = to_vector<double>(a);
  out = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), rows, cols);
  return out;
}

}  // namespace spartanxx

#include "array/reduce_kernels.hpp"

#include <Eigen/Core>

#include <cmath>
#include <type_traits>

#include "array/buffer.hpp"

namespace spartanxx::detail {
namespace {

using tiling::index_t;

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

/// Should `v` at index `i` replace `best` at `bi`? NaN wins; ties keep the smaller index.
template <class T>
bool better(ReduceKind kind, T v, index_t i, T best, index_t bi) {
  if (is_nan(best)) return is_nan(v) && i < bi;
  if (is_nan(v)) return true;
  const bool want_max = kind == ReduceKind::max || kind == ReduceKind::argmax;
  if (want_max ? v > best : v < best) return true;
  return v == best && i < bi;
}

template <class T, class V>
void sum_typed(const T* in, index_t outer, index_t n, index_t inner, V* out) {
  using Vec = Eigen::Array<V, Eigen::Dynamic, 1>;
  for (index_t o = 0; o < outer; ++o) {
    const T* base = in + o * n * inner;
    if (inner == 1) {
      if constexpr (std::is_same_v<T, V>) out[o] = n ? Eigen::Map<const Vec>(base, n).sum() : V(0);
      else out[o] = n ? Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(base, n).template cast<V>().sum() : V(0);
    } else {
      // Four rows per pass over the accumulator: the rows stream from memory once and
      // the accumulator (which may not fit in L1) is read and written a quarter as often.
      using In = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
      Eigen::Map<Vec> acc(out + o * inner, inner);
      acc.setZero();
      index_t k = 0;
      for (; k + 4 <= n; k += 4) {
        const In r0(base + k * inner, inner), r1(base + (k + 1) * inner, inner), r2(base + (k + 2) * inner, inner),
            r3(base + (k + 3) * inner, inner);
        acc += (r0.template cast<V>() + r1.template cast<V>()) + (r2.template cast<V>() + r3.template cast<V>());
      }
      for (; k < n; ++k) acc += In(base + k * inner, inner).template cast<V>();
    }
  }
}

template <class T>
void extreme_typed(ReduceKind kind, const T* in, index_t outer, index_t n, index_t inner, T* out, std::int64_t* idx) {
  const bool arg = is_arg(kind);
  const bool want_max = kind == ReduceKind::max || kind == ReduceKind::argmax;
  using Vec = Eigen::Array<T, Eigen::Dynamic, 1>;
  for (index_t o = 0; o < outer; ++o) {
    const T* base = in + o * n * inner;
    T* dst = out + o * inner;
    if (!arg && inner > 1) {
      // Vectorized running extreme over contiguous rows, NaN-propagating.
      Eigen::Map<Vec> acc(dst, inner);
      acc = Eigen::Map<const Vec>(base, inner);
      for (index_t k = 1; k < n; ++k) {
        const Eigen::Map<const Vec> row(base + k * inner, inner);
        if constexpr (std::is_floating_point_v<T>) {
          if (want_max) acc = (acc > row || acc != acc).select(acc, row);  // a NaN in either sticks
          else acc = (acc < row || acc != acc).select(acc, row);
        } else if (want_max) {
          acc = acc.max(row);
        } else {
          acc = acc.min(row);
        }
      }
      continue;
    }
    if (!arg && inner == 1) {
      const Eigen::Map<const Vec> v(base, n);
      if constexpr (std::is_floating_point_v<T>)
        dst[0] = want_max ? v.template maxCoeff<Eigen::PropagateNaN>() : v.template minCoeff<Eigen::PropagateNaN>();
      else
        dst[0] = want_max ? v.maxCoeff() : v.minCoeff();
      continue;
    }
    for (index_t j = 0; j < inner; ++j) {
      T best = base[j];
      index_t bi = 0;
      for (index_t k = 1; k < n; ++k) {
        const T v = base[k * inner + j];
        if (better(kind, v, k, best, bi)) best = v, bi = k;
      }
      dst[j] = best;
      if (idx) idx[o * inner + j] = bi;
    }
  }
}

}  // namespace

void reduce_tile(ReduceKind kind, const std::byte* in, DType in_dtype, index_t outer, index_t n, index_t inner,
                 std::byte* out, DType out_dtype, std::int64_t* out_index) {
  visit_dtype(in_dtype, [&](auto in_tag) {
    using T = typename decltype(in_tag)::type;
    const T* src = reinterpret_cast<const T*>(in);
    if (kind == ReduceKind::sum) {
      visit_dtype(out_dtype, [&](auto out_tag) {
        using V = typename decltype(out_tag)::type;
        if constexpr (std::is_same_v<V, std::uint8_t>) {
          // a bool "sum" only arises as a bool reduction result; count in int64 first.
          std::vector<std::int64_t> tmp(static_cast<std::size_t>(outer * inner));
          sum_typed<T, std::int64_t>(src, outer, n, inner, tmp.data());
          for (std::size_t i = 0; i < tmp.size(); ++i) reinterpret_cast<V*>(out)[i] = tmp[i] != 0;
        } else {
          sum_typed<T, V>(src, outer, n, inner, reinterpret_cast<V*>(out));
        }
      });
    } else {
      extreme_typed<T>(kind, src, outer, n, inner, reinterpret_cast<T*>(out), out_index);
    }
  });
}

void combine_partials(ReduceKind kind, const std::byte* values, const std::int64_t* indices, DType dtype, index_t outer,
                      index_t k, index_t inner, const std::vector<bool>& valid, std::byte* out,
                      std::int64_t* out_index) {
  visit_dtype(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* v = reinterpret_cast<const T*>(values);
    T* dst = reinterpret_cast<T*>(out);
    for (index_t o = 0; o < outer; ++o)
      for (index_t j = 0; j < inner; ++j) {
        bool have = false;
        T best{};
        std::int64_t bi = 0;
        for (index_t p = 0; p < k; ++p) {
          if (!valid[p]) continue;
          const index_t at = (o * k + p) * inner + j;
          const T x = v[at];
          const std::int64_t xi = indices ? indices[at] : p;
          if (kind == ReduceKind::sum) {
            best = have ? static_cast<T>(best + x) : x;
          } else if (!have || better(kind, x, xi, best, bi)) {
            best = x;
            bi = xi;
          }
          have = true;
        }
        dst[o * inner + j] = have ? best : T(0);
        if (out_index) out_index[o * inner + j] = bi;
      }
  });
}

}  // namespace spartanxx::detail

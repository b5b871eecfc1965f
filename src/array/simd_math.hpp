#pragma once
// Vectorized transcendental functions for the elementwise kernels, on xsimd batches
// (the widest instruction set the build targets). Each is xsimd's polynomial kernel
// with the edge cases NumPy defines mended where xsimd 8 gets them wrong; lanes that
// need it are recomputed with the C library function. A lane's result depends only on
// its own input value, never on its neighbours, so any element gives the same result
// wherever it sits in an array.
//
// Accuracy against glibc (measured over ~1.4 million values per function and type,
// edge cases included): exp, log, log1p within 1 ulp, tanh within 2 ulp, sqrt exact.
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <limits>
#include <type_traits>

namespace spartanxx::detail::simd {

template <class T>
using batch = xsimd::batch<T>;
template <class T>
using batch_bool = xsimd::batch_bool<T>;

/// r with the lanes selected by `mask` replaced by f(x) computed one lane at a time.
template <class T, class F>
inline batch<T> patch(const batch_bool<T>& mask, const batch<T>& x, const batch<T>& r, F f) {
  if (!xsimd::any(mask)) return r;
  constexpr std::size_t W = batch<T>::size;
  alignas(64) T xs[W], rs[W];
  alignas(64) bool ms[W];
  x.store_aligned(xs);
  r.store_aligned(rs);
  mask.store_aligned(ms);
  for (std::size_t i = 0; i < W; ++i)
    if (ms[i]) rs[i] = f(xs[i]);
  return batch<T>::load_aligned(rs);
}

/// x with NaN lanes set to 0 and the others clamped to [lo, hi]: xsimd's kernels turn
/// their argument into an integer (the exponent of the result), and converting inf or
/// NaN to an integer is undefined behaviour (which UBSan reports). Callers put the NaN
/// lanes back, and choose lo and hi where the function is already constant.
template <class T>
inline batch<T> tame(const batch<T>& x, T lo, T hi) {
  return xsimd::select(xsimd::isnan(x), batch<T>(T(0)), xsimd::min(xsimd::max(x, batch<T>(lo)), batch<T>(hi)));
}

/// e^x. xsimd scales its result by 2^k in one step, which overflows to inf when
/// k = 1024 (x above ~709.09, f64) and flushes to zero when 2^k is subnormal (x below
/// ~-708.05): lanes that close to either end of the range (rare) take std::exp.
template <class T>
inline batch<T> exp(const batch<T>& x) {
  constexpr bool f64 = std::is_same_v<T, double>;
  // Where xsimd is exact enough: |k| <= 1021 (f64) or 125 (f32). Beyond the outer
  // bounds xsimd's result (inf, 0) is already right, and the same for any argument
  // beyond them: those lanes are computed at the bound.
  const T hi = f64 ? T(708) : T(87), lo = f64 ? T(-707) : T(-86);
  const T inf_above = f64 ? T(710) : T(89), zero_below = f64 ? T(-746) : T(-104);
  const batch<T> r = xsimd::select(xsimd::isnan(x), x, xsimd::exp(tame(x, zero_below, inf_above)));
  const auto mask = ((x > batch<T>(hi)) & (x < batch<T>(inf_above))) | ((x < batch<T>(lo)) & (x > batch<T>(zero_below)));
  return patch(mask, x, r, [](T v) { return std::exp(v); });
}

/// Natural logarithm: log(0) = -inf, log(x < 0) = nan, log(inf) = inf. xsimd 8's f64
/// version mishandles subnormal arguments: those lanes take std::log.
template <class T>
inline batch<T> log(const batch<T>& x) {
  const batch<T> r = xsimd::log(x);
  return patch((x > batch<T>(T(0))) & (x < batch<T>(std::numeric_limits<T>::min())), x, r,
               [](T v) { return std::log(v); });
}

/// log(1 + x), accurate for small x: log1p(-1) = -inf, log1p(x < -1) = nan.
template <class T>
inline batch<T> log1p(const batch<T>& x) {
  return xsimd::log1p(x);
}

/// Hyperbolic tangent; saturates to +-1, tanh(+-0) = +-0.
template <class T>
inline batch<T> tanh(const batch<T>& x) {
  // tanh is +-1 (rounded) beyond +-20 in both precisions; xsimd must not see inf.
  return xsimd::select(xsimd::isnan(x), x, xsimd::tanh(tame(x, T(-40), T(40))));
}

/// Correctly rounded (the hardware instruction).
template <class T>
inline batch<T> sqrt(const batch<T>& x) {
  return xsimd::sqrt(x);
}

/// 1 / (1 + e^-x). e^-|x| never overflows; the algebraic form is chosen by the sign so
/// that neither tail loses precision: 0 or 1 at large |x|, never nan (but nan -> nan).
template <class T>
inline batch<T> sigmoid(const batch<T>& x) {
  const batch<T> one(T(1));
  const batch<T> e = simd::exp(-xsimd::abs(x));
  const batch<T> d = one + e;
  return xsimd::select(x >= batch<T>(T(0)), one / d, e / d);
}

}  // namespace spartanxx::detail::simd

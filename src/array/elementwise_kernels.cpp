#include "array/elementwise_kernels.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "array/buffer.hpp"
#include "array/simd_math.hpp"

namespace spartanxx::detail {
namespace {

using tiling::index_t;
constexpr index_t kChunk = 1024;
// Registers and scratch lie in one arena, each kChunk doubles plus five cache lines, so
// that no two of them share their address modulo 4 KiB (4K aliasing between the stores
// to one and the loads from the next).
constexpr std::size_t kRegBytes = kChunk * 8 + 320;

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

template <class D, class S>
inline D convert_one(S v) {
  if constexpr (std::is_same_v<D, std::uint8_t>) return static_cast<D>(v != S(0));
  else return static_cast<D>(v);
}

/// n elements of type C from `src` (dtype `dt`) read with stride 0 or 1.
template <class C>
void load(const std::byte* src, DType dt, index_t stride, index_t n, C* out) {
  visit_dtype(dt, [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* p = reinterpret_cast<const S*>(src);
    if (stride == 0) {
      const C v = convert_one<C>(p[0]);
      for (index_t i = 0; i < n; ++i) out[i] = v;
    } else if constexpr (std::is_same_v<S, C>) {
      std::copy(p, p + n, out);
    } else {
      for (index_t i = 0; i < n; ++i) out[i] = convert_one<C>(p[i]);
    }
  });
}

template <class C>
void store(const C* r, index_t n, std::byte* dst, DType dt) {
  visit_dtype(dt, [&](auto tag) {
    using D = typename decltype(tag)::type;
    D* p = reinterpret_cast<D*>(dst);
    if constexpr (std::is_same_v<D, C>) std::copy(r, r + n, p);
    else
      for (index_t i = 0; i < n; ++i) p[i] = convert_one<D>(r[i]);
  });
}

template <class C>
C int_pow(C base, C exp) {
  if (exp < 0) return base == 1 ? 1 : base == C(-1) ? (exp % 2 ? C(-1) : C(1)) : 0;
  C result = 1;
  while (exp > 0) {
    if (exp & 1) result *= base;
    base *= base;
    exp >>= 1;
  }
  return result;
}

/// An operand of one chunk in the compute type: n values at p, or one value broadcast.
template <class C>
struct Operand {
  const C* p;
  C s;
  bool scalar;
};
template <class C>
struct VecArg {
  const C* p;
  C operator[](index_t i) const { return p[i]; }
};
template <class C>
struct ScalarArg {
  C v;
  C operator[](index_t) const { return v; }
};

/// Calls f with an accessor for `o` (p[i] or the broadcast value), so that the loops
/// below are compiled, and vectorized, for each kind of operand.
template <class C, class F>
inline void with_arg(const Operand<C>& o, F&& f) {
  if (o.scalar) f(ScalarArg<C>{o.s});
  else f(VecArg<C>{o.p});
}

template <class C, class F>
inline void map1(index_t n, C* __restrict r, const Operand<C>* in, F f) {
  with_arg(in[0], [&](auto a) {
    for (index_t i = 0; i < n; ++i) r[i] = f(a[i]);
  });
}

template <class C, class F>
inline void map2(index_t n, C* __restrict r, const Operand<C>* in, F f) {
  with_arg(in[0], [&](auto a) {
    with_arg(in[1], [&](auto b) {
      for (index_t i = 0; i < n; ++i) r[i] = f(a[i], b[i]);
    });
  });
}

/// A transcendental function over n contiguous values: whole batches, then the tail
/// padded to one more batch, so every element takes the same vector code and its value
/// does not depend on its position (chunk, row, tile or rank).
template <class C, class VF>
inline void batch_map(index_t n, C* r, const C* a, VF vf) {
  using B = simd::batch<C>;
  constexpr index_t W = static_cast<index_t>(B::size);
  index_t i = 0;
  for (; i + W <= n; i += W) vf(B::load_unaligned(a + i)).store_unaligned(r + i);
  if (i < n) {
    alignas(64) C t[W];
    std::fill(t, t + W, C(1));
    std::copy(a + i, a + n, t);
    vf(B::load_aligned(t)).store_aligned(t);
    std::copy(t, t + (n - i), r + i);
  }
}

template <class C, class VF>
inline void batch_map(index_t n, C* r, const Operand<C>& a, VF vf) {
  if (a.scalar) {
    C v;
    batch_map(1, &v, &a.s, vf);
    std::fill(r, r + n, v);
  } else {
    batch_map(n, r, a.p, vf);
  }
}

/// r[0, n) = op(in...) in type C.
template <class C>
void apply(MapOp op, index_t n, const Operand<C>* in, C* __restrict r) {
  constexpr bool fp = std::is_floating_point_v<C>;
  switch (op) {
    case MapOp::identity: map1(n, r, in, [](C a) { return a; }); return;
    case MapOp::negative: map1(n, r, in, [](C a) { return static_cast<C>(-a); }); return;
    case MapOp::logical_not: map1(n, r, in, [](C a) { return C(a == C(0)); }); return;
    case MapOp::abs:
      map1(n, r, in, [](C a) {
        if constexpr (fp) return std::abs(a);
        else if constexpr (std::is_unsigned_v<C>) return a;
        else return a < C(0) ? static_cast<C>(-a) : a;
      });
      return;
    case MapOp::square: map1(n, r, in, [](C a) { return static_cast<C>(a * a); }); return;
    case MapOp::sign:
      // numpy.sign: -1, 0 or 1; NaN stays NaN.
      map1(n, r, in, [](C a) { return a > C(0) ? C(1) : a < C(0) ? static_cast<C>(-1) : a == C(0) ? C(0) : a; });
      return;
    case MapOp::floor:
      if constexpr (fp) map1(n, r, in, [](C a) { return std::floor(a); });
      else map1(n, r, in, [](C a) { return a; });  // whole already
      return;
    case MapOp::ceil:
      if constexpr (fp) map1(n, r, in, [](C a) { return std::ceil(a); });
      else map1(n, r, in, [](C a) { return a; });
      return;
    case MapOp::isnan:
      if constexpr (fp) map1(n, r, in, [](C a) { return C(a != a); });
      else map1(n, r, in, [](C) { return C(0); });
      return;
    case MapOp::isfinite:
      // a - a is 0 exactly for finite a, NaN for infinities and NaN.
      if constexpr (fp) map1(n, r, in, [](C a) { return C(a - a == C(0)); });
      else map1(n, r, in, [](C) { return C(1); });
      return;
    case MapOp::add: map2(n, r, in, [](C a, C b) { return static_cast<C>(a + b); }); return;
    case MapOp::subtract: map2(n, r, in, [](C a, C b) { return static_cast<C>(a - b); }); return;
    case MapOp::multiply: map2(n, r, in, [](C a, C b) { return static_cast<C>(a * b); }); return;
    case MapOp::maximum:
      // NaN propagates, as in NumPy.
      if constexpr (fp) map2(n, r, in, [](C a, C b) { return a > b || a != a ? a : b; });
      else map2(n, r, in, [](C a, C b) { return a > b ? a : b; });
      return;
    case MapOp::minimum:
      if constexpr (fp) map2(n, r, in, [](C a, C b) { return a < b || a != a ? a : b; });
      else map2(n, r, in, [](C a, C b) { return a < b ? a : b; });
      return;
    case MapOp::equal: map2(n, r, in, [](C a, C b) { return C(a == b); }); return;
    case MapOp::not_equal: map2(n, r, in, [](C a, C b) { return C(a != b); }); return;
    case MapOp::less: map2(n, r, in, [](C a, C b) { return C(a < b); }); return;
    case MapOp::less_equal: map2(n, r, in, [](C a, C b) { return C(a <= b); }); return;
    case MapOp::greater: map2(n, r, in, [](C a, C b) { return C(a > b); }); return;
    case MapOp::greater_equal: map2(n, r, in, [](C a, C b) { return C(a >= b); }); return;
    case MapOp::logical_and: map2(n, r, in, [](C a, C b) { return C(a != C(0) && b != C(0)); }); return;
    case MapOp::logical_or: map2(n, r, in, [](C a, C b) { return C(a != C(0) || b != C(0)); }); return;
    case MapOp::where:
      with_arg(in[0], [&](auto c) {
        with_arg(in[1], [&](auto a) {
          with_arg(in[2], [&](auto b) {
            for (index_t i = 0; i < n; ++i) r[i] = c[i] != C(0) ? a[i] : b[i];
          });
        });
      });
      return;
    case MapOp::power:
      if constexpr (fp) {
        // Eigen's vector pow: both operands padded to whole packets in aligned scratch
        // (its scalar and vector versions differ in the last bit).
        constexpr index_t P = 16;
        alignas(64) C a[P], b[P];
        for (index_t c0 = 0; c0 < n; c0 += P) {
          const index_t m = std::min(P, n - c0);
          for (index_t i = 0; i < P; ++i) {
            a[i] = i < m ? (in[0].scalar ? in[0].s : in[0].p[c0 + i]) : C(1);
            b[i] = i < m ? (in[1].scalar ? in[1].s : in[1].p[c0 + i]) : C(1);
          }
          alignas(64) C t[P];
          ArrayMap<C>(t, P) = ConstMap<C>(a, P).pow(ConstMap<C>(b, P));
          std::copy(t, t + m, r + c0);
        }
      } else {
        map2(n, r, in, [](C a, C b) { return int_pow(a, b); });
      }
      return;
    default: break;
  }
  if constexpr (fp) {
    switch (op) {
      case MapOp::divide: map2(n, r, in, [](C a, C b) { return a / b; }); return;
      case MapOp::exp: batch_map(n, r, in[0], [](auto x) { return simd::exp(x); }); return;
      case MapOp::log: batch_map(n, r, in[0], [](auto x) { return simd::log(x); }); return;
      case MapOp::log1p: batch_map(n, r, in[0], [](auto x) { return simd::log1p(x); }); return;
      case MapOp::sqrt: batch_map(n, r, in[0], [](auto x) { return simd::sqrt(x); }); return;
      case MapOp::tanh: batch_map(n, r, in[0], [](auto x) { return simd::tanh(x); }); return;
      case MapOp::sigmoid: batch_map(n, r, in[0], [](auto x) { return simd::sigmoid(x); }); return;
      default: break;
    }
  }
  throw std::logic_error("fused_tile: operation not defined for this compute type");
}

/// Where an instruction's argument comes from in the current chunk.
struct Source {
  const std::byte* data;  // first element of the chunk
  DType dtype;
  bool scalar;  // one value for the whole chunk
};

/// Runs instruction `ins` (compute type C) over one chunk of n elements. Arguments are
/// used in place when already of type C, converted into scratch otherwise, and kept as
/// one value when they are broadcast. When every argument is one value, so is the
/// result: it is computed once, and `result_scalar` is set (unless `fill_dst`: then it
/// is written n times). Otherwise n results of dtype ins.out land in `dst`.
template <class C>
void run_instruction(const FusedInstr& ins, const Source* src, index_t n, std::byte* dst, bool fill_dst, C* scratch,
                     bool& result_scalar) {
  Operand<C> ops[3];
  bool all_scalar = true;
  for (std::size_t j = 0; j < ins.args.size(); ++j) {
    const Source& s = src[j];
    if (s.scalar) {
      C v;
      load<C>(s.data, s.dtype, 0, 1, &v);
      ops[j] = Operand<C>{nullptr, v, true};
    } else if (s.dtype == ins.compute) {
      ops[j] = Operand<C>{reinterpret_cast<const C*>(s.data), C(0), false};
      all_scalar = false;
    } else {
      C* p = reinterpret_cast<C*>(reinterpret_cast<std::byte*>(scratch) + j * kRegBytes);
      load<C>(s.data, s.dtype, 1, n, p);
      ops[j] = Operand<C>{p, C(0), false};
      all_scalar = false;
    }
  }
  if (all_scalar) {
    C v;
    apply<C>(ins.op, 1, ops, &v);
    if (fill_dst) {
      C* r = reinterpret_cast<C*>(reinterpret_cast<std::byte*>(scratch) + 3 * kRegBytes);
      std::fill(r, r + n, v);
      store<C>(r, n, dst, ins.out);
      result_scalar = false;
    } else {
      store<C>(&v, 1, dst, ins.out);
      result_scalar = true;
    }
    return;
  }
  result_scalar = false;
  if (ins.out == ins.compute) {
    apply<C>(ins.op, n, ops, reinterpret_cast<C*>(dst));
  } else {
    C* r = reinterpret_cast<C*>(reinterpret_cast<std::byte*>(scratch) + 3 * kRegBytes);
    apply<C>(ins.op, n, ops, r);
    store<C>(r, n, dst, ins.out);
  }
}

/// A left-to-right sum of terms, each an array input times a coefficient (1, -1 or a
/// broadcast scalar, possibly negated): a*x + b*y - z, x - y, w - lr*g.
struct LinearTerm {
  std::size_t input;
  double coef;
};

/// Whether the program (all float64) is such a sum over float64 inputs of the output's
/// shape, evaluated in the same order with the same roundings (x - t is x + (-t)
/// exactly, and 1 * x is x); then `terms` lists it.
bool linear_chain(const std::vector<FusedInstr>& prog, const std::vector<MapInput>& inputs,
                  const tiling::Shape& out_shape, std::vector<LinearTerm>& terms) {
  for (const FusedInstr& ins : prog)
    if (ins.compute != DType::f64 || ins.out != DType::f64) return false;
  auto is_array = [&](int a) {
    if (a >= 0) return false;
    const MapInput& in = inputs[static_cast<std::size_t>(-a - 1)];
    return in.dtype == DType::f64 && in.shape == out_shape;
  };
  auto scalar_value = [&](int a, double& v) {
    if (a >= 0) return false;
    const MapInput& in = inputs[static_cast<std::size_t>(-a - 1)];
    if (tiling::volume(in.shape) != 1 || in.dtype == DType::boolean) return false;
    load<double>(in.data, in.dtype, 0, 1, &v);
    return true;
  };
  // A term: an array input, or an instruction multiplying a scalar input by one.
  auto term = [&](int a, double sign, LinearTerm& t) {
    if (is_array(a)) {
      t = {static_cast<std::size_t>(-a - 1), sign};
      return true;
    }
    if (a < 0) return false;
    const FusedInstr& m = prog[static_cast<std::size_t>(a)];
    if (m.op != MapOp::multiply) return false;
    double v = 0;
    if (scalar_value(m.args[0], v) && is_array(m.args[1])) t = {static_cast<std::size_t>(-m.args[1] - 1), sign * v};
    else if (scalar_value(m.args[1], v) && is_array(m.args[0])) t = {static_cast<std::size_t>(-m.args[0] - 1), sign * v};
    else return false;
    return true;
  };
  std::vector<LinearTerm> reversed;
  int at = static_cast<int>(prog.size()) - 1;
  while (true) {
    const FusedInstr& ins = prog[static_cast<std::size_t>(at)];
    LinearTerm t{};
    if ((ins.op == MapOp::add || ins.op == MapOp::subtract) &&
        term(ins.args[1], ins.op == MapOp::subtract ? -1.0 : 1.0, t)) {
      reversed.push_back(t);
      if (term(ins.args[0], 1.0, t)) {
        reversed.push_back(t);
        break;
      }
      if (ins.args[0] < 0 || reversed.size() >= 8) return false;
      at = ins.args[0];
      continue;
    }
    return false;
  }
  terms.assign(reversed.rbegin(), reversed.rend());
  return terms.size() <= 8;
}

template <int K>
void linear_loop(index_t n, const double* const* x, const double* c, double* __restrict out) {
  for (index_t i = 0; i < n; ++i) {
    double acc = c[0] * x[0][i];
    for (int k = 1; k < K; ++k) acc = acc + c[k] * x[k][i];
    out[i] = acc;
  }
}

/// The linear chain in one loop over all its inputs at once: every input streams from
/// memory together, as a hand-written loop would (one instruction at a time over
/// chunks reaches only about half the memory bandwidth).
void run_linear(const std::vector<LinearTerm>& terms, const std::vector<MapInput>& inputs, index_t n, std::byte* out) {
  const double* x[8];
  double c[8];
  for (std::size_t k = 0; k < terms.size(); ++k) {
    x[k] = reinterpret_cast<const double*>(inputs[terms[k].input].data);
    c[k] = terms[k].coef;
  }
  double* o = reinterpret_cast<double*>(out);
  switch (terms.size()) {
    case 2: linear_loop<2>(n, x, c, o); return;
    case 3: linear_loop<3>(n, x, c, o); return;
    case 4: linear_loop<4>(n, x, c, o); return;
    case 5: linear_loop<5>(n, x, c, o); return;
    case 6: linear_loop<6>(n, x, c, o); return;
    case 7: linear_loop<7>(n, x, c, o); return;
    case 8: linear_loop<8>(n, x, c, o); return;
    default: throw std::logic_error("run_linear: 2 to 8 terms");
  }
}

}  // namespace

void fused_tile(const std::vector<FusedInstr>& prog, std::byte* out, const tiling::Shape& out_shape,
                const std::vector<MapInput>& inputs) {
  const int nd = static_cast<int>(out_shape.size());
  const std::size_t k = inputs.size();
  const index_t total = tiling::volume(out_shape);
  if (total == 0 || prog.empty()) return;
  {
    std::vector<LinearTerm> terms;
    if (linear_chain(prog, inputs, out_shape, terms) && terms.size() >= 2) {
      run_linear(terms, inputs, total, out);
      return;
    }
  }

  // Collapse to (rows, inner): inner is the last axis, or everything when no input
  // broadcasts (then the whole tile is one contiguous run).
  bool flat = true;
  for (const auto& in : inputs)
    if (in.shape != out_shape && tiling::volume(in.shape) != 1) flat = false;
  const index_t inner = flat || nd == 0 ? total : out_shape[nd - 1];
  const index_t rows = total / inner;

  std::vector<std::vector<index_t>> strides(k);
  for (std::size_t i = 0; i < k; ++i) {
    auto st = tiling::row_major_strides(inputs[i].shape);
    for (int a = 0; a < nd; ++a)
      if (inputs[i].shape[a] == 1) st[a] = 0;
    strides[i] = st;
  }
  // One chunk-sized register per instruction but the last (which writes the output),
  // and scratch for operand conversion: all of it stays in cache.
  // Registers: an instruction's result lives until its last reader, then its register
  // is reused (a chain of any length needs two). Reused across calls too: a fused
  // reduction evaluates many small slabs.
  std::vector<int> last_use(prog.size(), -1), reg_of(prog.size(), -1), free_regs;
  for (std::size_t i = 0; i < prog.size(); ++i)
    for (int a : prog[i].args)
      if (a >= 0) last_use[a] = static_cast<int>(i);
  int nregs = 0;
  for (std::size_t i = 0; i + 1 < prog.size(); ++i) {
    if (free_regs.empty()) {
      reg_of[i] = nregs++;
    } else {
      reg_of[i] = free_regs.back();
      free_regs.pop_back();
    }
    for (std::size_t j = 0; j < prog[i].args.size(); ++j) {
      const int a = prog[i].args[j];
      bool first_mention = true;
      for (std::size_t q = 0; q < j; ++q) first_mention = first_mention && prog[i].args[q] != a;
      if (a >= 0 && first_mention && last_use[a] == static_cast<int>(i)) free_regs.push_back(reg_of[a]);
    }
  }
  thread_local Buffer arena;
  const std::size_t need = (nregs + 4) * kRegBytes + 4096;
  if (arena.bytes() < need) arena = Buffer(need);
  std::byte* const scratch = arena.data();
  std::byte* const regs0 = arena.data() + 4 * kRegBytes;
  auto reg = [&](int r) { return regs0 + r * kRegBytes; };
  const DType out_dtype = prog.back().out;
  const std::size_t out_size = itemsize(out_dtype);
  // Per chunk: whether each instruction's result is one broadcast value.
  std::vector<char> reg_scalar(prog.size(), 0);

  std::vector<index_t> row_idx(std::max(nd - 1, 0), 0);
  std::vector<index_t> base(k), step(k);
  Source src[3];
  for (index_t row = 0; row < rows; ++row) {
    for (std::size_t i = 0; i < k; ++i) {
      base[i] = 0;
      step[i] = 1;
      if (tiling::volume(inputs[i].shape) == 1) {
        step[i] = 0;
      } else if (!flat) {
        for (int a = 0; a + 1 < nd; ++a) base[i] += row_idx[a] * strides[i][a];
        step[i] = strides[i][nd - 1] == 0 ? 0 : 1;
      }
    }
    for (index_t c0 = 0; c0 < inner; c0 += kChunk) {
      const index_t n = std::min(kChunk, inner - c0);
      for (std::size_t i = 0; i < prog.size(); ++i) {
        const FusedInstr& ins = prog[i];
        for (std::size_t j = 0; j < ins.args.size(); ++j) {
          const int a = ins.args[j];
          if (a < 0) {
            const std::size_t e = static_cast<std::size_t>(-a - 1);
            src[j] = Source{inputs[e].data + (base[e] + c0 * step[e]) * itemsize(inputs[e].dtype), inputs[e].dtype,
                            step[e] == 0};
          } else {
            src[j] = Source{reg(reg_of[a]), prog[a].out, reg_scalar[a] != 0};
          }
        }
        const bool last = i + 1 == prog.size();
        std::byte* dst = last ? out + (row * inner + c0) * out_size : reg(reg_of[i]);
        bool result_scalar = false;
        visit_dtype(ins.compute, [&](auto tag) {
          using C = typename decltype(tag)::type;
          run_instruction<C>(ins, src, n, dst, last, reinterpret_cast<C*>(scratch), result_scalar);
        });
        reg_scalar[i] = result_scalar;
      }
    }
    for (int a = nd - 2; a >= 0; --a) {
      if (++row_idx[a] < out_shape[a]) break;
      row_idx[a] = 0;
    }
  }
}

void convert(const std::byte* in, DType in_dtype, std::byte* out, DType out_dtype, std::size_t n) {
  visit_dtype(out_dtype, [&](auto tag) {
    using D = typename decltype(tag)::type;
    D* o = reinterpret_cast<D*>(out);
    for (std::size_t c = 0; c < n; c += kChunk) {
      const index_t m = static_cast<index_t>(std::min<std::size_t>(kChunk, n - c));
      load<D>(in + c * itemsize(in_dtype), in_dtype, 1, m, o + c);
    }
  });
}

}  // namespace spartanxx::detail

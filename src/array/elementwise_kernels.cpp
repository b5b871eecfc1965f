#include "array/elementwise_kernels.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "array/buffer.hpp"

namespace spartanxx::detail {
namespace {

using tiling::index_t;
constexpr index_t kChunk = 1024;

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

template <class C>
void apply(MapOp op, index_t n, C* const* in, C* r) {
  ArrayMap<C> R(r, n);
  const ConstMap<C> A(in[0], n);
  constexpr bool fp = std::is_floating_point_v<C>;
  auto b = [&] { return ConstMap<C>(in[1], n); };
  switch (op) {
    case MapOp::identity: R = A; return;
    case MapOp::negative: R = -A; return;
    case MapOp::logical_not: R = (A == C(0)).template cast<C>(); return;
    case MapOp::abs: R = A.abs(); return;
    case MapOp::square: R = A.square(); return;
    case MapOp::add: R = A + b(); return;
    case MapOp::subtract: R = A - b(); return;
    case MapOp::multiply: R = A * b(); return;
    case MapOp::maximum:
      if constexpr (fp) R = (A > b() || A != A).select(A, b());
      else R = A.max(b());
      return;
    case MapOp::minimum:
      if constexpr (fp) R = (A < b() || A != A).select(A, b());
      else R = A.min(b());
      return;
    case MapOp::equal: R = (A == b()).template cast<C>(); return;
    case MapOp::not_equal: R = (A != b()).template cast<C>(); return;
    case MapOp::less: R = (A < b()).template cast<C>(); return;
    case MapOp::less_equal: R = (A <= b()).template cast<C>(); return;
    case MapOp::greater: R = (A > b()).template cast<C>(); return;
    case MapOp::greater_equal: R = (A >= b()).template cast<C>(); return;
    case MapOp::logical_and: R = (A != C(0) && b() != C(0)).template cast<C>(); return;
    case MapOp::logical_or: R = (A != C(0) || b() != C(0)).template cast<C>(); return;
    case MapOp::where: {
      const ConstMap<C> B(in[1], n), Z(in[2], n);
      R = (A != C(0)).select(B, Z);
      return;
    }
    case MapOp::power:
      if constexpr (fp) R = A.pow(b());
      else
        for (index_t i = 0; i < n; ++i) r[i] = int_pow(in[0][i], in[1][i]);
      return;
    default: break;
  }
  if constexpr (fp) {
    switch (op) {
      case MapOp::exp:
      {
        R = A.exp();
        // Eigen's vectorized exp clamps its argument: results that underflow to
        // subnormals are recomputed exactly.
        const C lowest = std::log(std::numeric_limits<C>::min());
        for (index_t i = 0; i < n; ++i)
          if (in[0][i] < lowest) r[i] = std::exp(in[0][i]);
        return;
      }
      case MapOp::log:
        R = A.log();
        // ... and its log mishandles subnormal arguments.
        for (index_t i = 0; i < n; ++i)
          if (in[0][i] < std::numeric_limits<C>::min()) r[i] = std::log(in[0][i]);
        return;
      case MapOp::log1p: R = A.log1p(); return;
      case MapOp::sqrt:
        R = A.sqrt();
        // The fast vector sqrt is wrong for infinity and subnormals.
        for (index_t i = 0; i < n; ++i)
          if (!(in[0][i] >= std::numeric_limits<C>::min() && in[0][i] <= std::numeric_limits<C>::max()))
            r[i] = std::sqrt(in[0][i]);
        return;
      case MapOp::tanh: R = A.tanh(); return;
      case MapOp::divide: R = A / b(); return;
      case MapOp::sigmoid: {
        // exp(-|x|) never overflows; pick the algebraic form that keeps precision.
        const auto e = (-A.abs()).exp();
        R = (A >= C(0)).select(C(1) / (C(1) + e), e / (C(1) + e));
        return;
      }
      default: break;
    }
  }
  throw std::logic_error("fused_tile: operation not defined for this compute type");
}

/// Where a program operand comes from in the current chunk.
struct Operand {
  const std::byte* data;  // first element of the chunk
  DType dtype;
  index_t stride;  // 0 (broadcast) or 1
};

/// Runs instruction `ins` of type C over one chunk of n elements: operands are used in
/// place when already of type C and contiguous, converted into scratch otherwise; the
/// result lands in `dst` (of dtype ins.out), converted if needed.
template <class C>
void run_instruction(const FusedInstr& ins, const Operand* ops, index_t n, std::byte* dst, C* scratch) {
  C* ptrs[3];
  if (ins.op == MapOp::exp || ins.op == MapOp::log || ins.op == MapOp::log1p || ins.op == MapOp::tanh ||
      ins.op == MapOp::sigmoid || ins.op == MapOp::power) {
    // Eigen's vector and scalar versions of these differ in the last bit; which one an
    // element gets must not depend on where it sits in memory (its row, tile or rank).
    // So every element takes the vector path: aligned scratch, length padded to whole
    // packets (kChunk is a multiple of 16).
    const index_t padded = (n + 15) / 16 * 16;
    for (std::size_t j = 0; j < ins.args.size(); ++j) {
      ptrs[j] = scratch + j * kChunk;
      load<C>(ops[j].data, ops[j].dtype, ops[j].stride, n, ptrs[j]);
      std::fill(ptrs[j] + n, ptrs[j] + padded, C(1));
    }
    C* r = scratch + 3 * kChunk;
    apply<C>(ins.op, padded, ptrs, r);
    store<C>(r, n, dst, ins.out);
    return;
  }
  for (std::size_t j = 0; j < ins.args.size(); ++j) {
    if (ops[j].dtype == ins.compute && ops[j].stride == 1) {
      ptrs[j] = const_cast<C*>(reinterpret_cast<const C*>(ops[j].data));
    } else {
      ptrs[j] = scratch + j * kChunk;
      load<C>(ops[j].data, ops[j].dtype, ops[j].stride, n, ptrs[j]);
    }
  }
  if (ins.out == ins.compute) {
    apply<C>(ins.op, n, ptrs, reinterpret_cast<C*>(dst));
  } else {
    C* r = scratch + 3 * kChunk;
    apply<C>(ins.op, n, ptrs, r);
    store<C>(r, n, dst, ins.out);
  }
}

}  // namespace

void fused_tile(const std::vector<FusedInstr>& prog, std::byte* out, const tiling::Shape& out_shape,
                const std::vector<MapInput>& inputs) {
  const int nd = static_cast<int>(out_shape.size());
  const std::size_t k = inputs.size();
  const index_t total = tiling::volume(out_shape);
  if (total == 0 || prog.empty()) return;

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
  thread_local std::vector<Buffer> regs;
  thread_local Buffer scratch(kChunk * 8 * 4);
  while (static_cast<int>(regs.size()) < nregs) regs.emplace_back(kChunk * 8);
  const DType out_dtype = prog.back().out;
  const std::size_t out_size = itemsize(out_dtype);

  std::vector<index_t> row_idx(std::max(nd - 1, 0), 0);
  std::vector<index_t> base(k), step(k);
  Operand ops[3];
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
            ops[j] = Operand{inputs[e].data + (base[e] + c0 * step[e]) * itemsize(inputs[e].dtype), inputs[e].dtype, step[e]};
          } else {
            ops[j] = Operand{regs[reg_of[a]].data(), prog[a].out, 1};
          }
        }
        std::byte* dst = i + 1 == prog.size() ? out + (row * inner + c0) * out_size : regs[reg_of[i]].data();
        visit_dtype(ins.compute, [&](auto tag) {
          using C = typename decltype(tag)::type;
          run_instruction<C>(ins, ops, n, dst, scratch.as<C>());
        });
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

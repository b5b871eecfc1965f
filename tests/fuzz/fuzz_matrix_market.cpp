// io::read_matrix_market on arbitrary bytes. Whatever it accepts must be a 2-d array
// whose stored entries fit its shape and, with NonFinite::reject, are all finite; with
// NonFinite::accept it must accept at least as much.
#include <cmath>

#include "fuzz_common.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/sparse.hpp"

namespace sx = spartanxx;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::runtime();
  const std::string& path = fuzz::write_input(data, size, ".mtx");
  sx::Array a;
  const bool ok = fuzz::expect_typed(path, [&] { a = sx::io::read_matrix_market(path); });
  if (!ok) return 0;
  if (a.ndim() != 2) fuzz::finding("read_matrix_market returned a " + std::to_string(a.ndim()) + "-d array");
  const auto& s = a.shape();
  if (s[0] > (std::int64_t{1} << 20)) {
    // A tall matrix from a short file (a header may declare millions of rows): its
    // entries are counted, not copied out row by row, to stay within the timeout.
    if (static_cast<double>(sx::nnz(a)) > static_cast<double>(size) / 2.0)
      fuzz::finding("more stored entries than the file has lines (twice, if symmetric)");
    return 0;
  }
  const auto m = sx::to_eigen_sparse(a);
  if (m.rows() != s[0] || m.cols() != s[1]) fuzz::finding("to_eigen_sparse disagrees with the shape");
  if (static_cast<double>(m.nonZeros()) > static_cast<double>(s[0]) * static_cast<double>(s[1]))
    fuzz::finding("more stored entries than the shape holds");
  for (std::int64_t k = 0; k < m.nonZeros(); ++k)
    if (!std::isfinite(m.valuePtr()[k])) fuzz::finding("a non-finite value passed NonFinite::reject");
  if (!fuzz::expect_typed(path, [&] { a = sx::io::read_matrix_market(path, sx::DType::f64, sx::io::NonFinite::accept); }))
    fuzz::finding("NonFinite::accept rejected a file that NonFinite::reject accepted");
  return 0;
}

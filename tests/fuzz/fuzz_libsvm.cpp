// io::read_libsvm on arbitrary bytes, 1-based and 0-based. Whatever it accepts has one
// label per row, finite labels and values (NonFinite::reject), and indices inside the
// feature count; the 0-based reading of a file the 1-based one accepted must succeed.
#include <cmath>

#include "fuzz_common.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/io.hpp"

namespace sx = spartanxx;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::runtime();
  const std::string& path = fuzz::write_input(data, size, ".svm");
  for (const bool zero_based : {false, true}) {
    sx::io::LabeledData d;
    if (!fuzz::expect_typed(path, [&] { d = sx::io::read_libsvm(path, 0, zero_based); })) {
      if (zero_based) fuzz::finding("0-based read_libsvm rejected what the 1-based one accepted");
      return 0;
    }
    if (d.X.ndim() != 2 || d.y.ndim() != 1 || d.X.shape()[0] != d.y.shape()[0])
      fuzz::finding("read_libsvm: X and y disagree in rows");
    const auto X = sx::to_eigen_sparse(d.X);
    for (std::int64_t k = 0; k < X.nonZeros(); ++k) {
      if (!std::isfinite(X.valuePtr()[k])) fuzz::finding("a non-finite value passed NonFinite::reject");
      if (X.innerIndexPtr()[k] < 0 || X.innerIndexPtr()[k] >= X.cols()) fuzz::finding("an index outside the columns");
    }
    const Eigen::MatrixXd y = sx::to_eigen(d.y);
    if (!y.allFinite()) fuzz::finding("a non-finite label passed NonFinite::reject");
  }
  return 0;
}

// io::read_checkpoint and LogisticRegressionModel::load on arbitrary bytes as a file (the
// seeds are a real checkpoint and real saved models, made by spartanxx-tfidf-lr). A
// damaged file must be an error naming it; a model that loads must predict on raw text.
// The seal (the length and CRC-32 of the bytes, checked before libhdf5 reads any) stops
// a mutated file short of libhdf5, which 1.10.8 can hang on (README.md); what is fuzzed
// is everything up to and including that check.
#include <cmath>

#include "fuzz_common.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml/logistic_regression.hpp"

namespace sx = spartanxx;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::runtime();
  const std::string& path = fuzz::write_input(data, size, ".h5");
  fuzz::expect_typed(path, [&] {
    const sx::io::Snapshot s = sx::io::read_checkpoint(path);
    for (const auto& [name, a] : s.arrays) (void)sx::to_eigen(a);
  });
  fuzz::expect_typed(path, [&] {
    const auto m = sx::ml::LogisticRegressionModel::load(path);
    if (m.features()) {
      const auto p = sx::to_eigen(m.predict_probability_texts({"free offer now", "", "Meeting at noon"}));
      for (Eigen::Index i = 0; i < p.size(); ++i)
        if (!(p(i) >= 0 && p(i) <= 1)) fuzz::finding("a loaded model predicts a probability outside [0, 1]");
    }
  });
  return 0;
}

// spartanxx::ml::IDF, on the public API only.
#include "spartanxx/ml/idf.hpp"

#include <fmt/format.h>

#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx::ml {

IDF::IDF(std::int64_t min_doc_freq) : min_doc_freq_(min_doc_freq) {
  if (min_doc_freq < 0) throw value_error(fmt::format("IDF: minDocFreq must be >= 0, got {}", min_doc_freq));
}

IDFModel IDF::fit(const Array& tf) const {
  if (tf.shape().size() != 2)
    throw shape_error(fmt::format("IDF.fit: expects documents x features, got an array of {} dimensions", tf.shape().size()));
  const double m = static_cast<double>(tf.shape()[0]);
  const Array df = sum(tf > 0.0, 0).astype(DType::f64);
  Array idf = where(df >= static_cast<double>(min_doc_freq_), log((m + 1.0) / (df + 1.0)), 0.0);
  idf.evaluate();
  return IDFModel(std::move(idf));
}

Array IDFModel::transform(const Array& tf) const {
  if (tf.shape().size() != 2 || tf.shape()[1] != idf_.shape()[0])
    throw shape_error(fmt::format("IDFModel.transform: expects documents x {} features, got {} dimensions with {} columns",
                                  idf_.shape()[0], tf.shape().size(), tf.shape().empty() ? 0 : tf.shape().back()));
  return tf * idf_;
}

}  // namespace spartanxx::ml

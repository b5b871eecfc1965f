#pragma once
// Spark's IDF: idf_j = ln((m + 1) / (df_j + 1)) over m documents, df_j the number of
// documents whose value for term j is > 0; terms in fewer than minDocFreq documents get 0.
#include <cstdint>

#include "spartanxx/array.hpp"

namespace spartanxx::ml {

class IDFModel {
 public:
  explicit IDFModel(Array idf) : idf_(std::move(idf)) {}
  /// The weights, a float64 vector of one entry per feature.
  const Array& idf() const { return idf_; }
  /// Each column of `tf` (documents x features) scaled by its weight: a sparse `tf`
  /// stays sparse. Lazy, like every array expression.
  Array transform(const Array& tf) const;

 private:
  Array idf_;
};

class IDF {
 public:
  explicit IDF(std::int64_t min_doc_freq = 0);
  /// Document frequencies of `tf` (documents x features) by one column reduction (an
  /// allreduce of one count per feature), then the weights; evaluated.
  IDFModel fit(const Array& tf) const;

 private:
  std::int64_t min_doc_freq_;
};

}  // namespace spartanxx::ml

#pragma once
// The featurization of a text classifier as one value: the tokenizer's settings, the
// hashing (HashingTF) and the IDF weights fitted on the training set. Saved with a model
// (LogisticRegressionModel::save), it turns tomorrow's raw text into the same features.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/ml/hashing_tf.hpp"
#include "spartanxx/ml/idf.hpp"
#include "spartanxx/ml/tokenizer.hpp"

namespace spartanxx::ml {

/// Which tokenizer and its settings: "standard" (Spark's Tokenizer), "regex"
/// (RegexTokenizer with pattern, gaps, min_token_length, lowercase) or "split" (at
/// every `delimiter`).
struct TokenizerSettings {
  std::string kind = "standard";
  std::string pattern = "\\s+";
  bool gaps = true;
  std::size_t min_token_length = 1;
  bool lowercase = true;
  char delimiter = ',';
  /// The tokenizer as HashingTF::transform_texts takes it (value_error for an unknown
  /// kind or a bad pattern).
  std::function<void(std::string_view, const TermSink&)> terms() const;
};

struct TextFeatures {
  TokenizerSettings tokenizer;
  HashingTF hashing;
  std::optional<IDFModel> idf;  ///< none: term counts as they are
  /// Each rank's texts (rows in rank order) to documents x features: tokenized, hashed,
  /// weighted. Collective.
  Array transform(const std::vector<std::string>& local_texts) const;
};

}  // namespace spartanxx::ml

#pragma once
// Spark's HashingTF: terms hashed to feature indices with MurmurHash3 (x86, 32-bit,
// seed 42) of their UTF-8 bytes, term counts per document as a sparse matrix.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "spartanxx/array.hpp"

namespace spartanxx::ml {

/// MurmurHash3 x86 32-bit as its author wrote it (Spark ml's HashingTF since 3.0).
std::uint32_t murmur3_32(const void* data, std::size_t bytes, std::uint32_t seed);

/// Spark's legacy Murmur3_x86_32.hashUnsafeBytes (spark.mllib's HashingTF): the same on
/// whole 4-byte blocks, but each of the trailing len % 4 bytes is sign-extended and
/// mixed as a block of its own.
std::uint32_t murmur3_32_spark_legacy(const void* data, std::size_t bytes, std::uint32_t seed);

enum class HashVariant {
  mllib,  // spark.mllib.feature.HashingTF (murmur3_32_spark_legacy)
  ml,     // spark.ml.feature.HashingTF since Spark 3.0 (murmur3_32)
};

class HashingTF {
 public:
  /// numFeatures defaults to 2^20, as in spark.mllib. `binary`: 1 for every term present
  /// instead of its count.
  explicit HashingTF(std::int64_t num_features = std::int64_t{1} << 20, HashVariant variant = HashVariant::mllib,
                     bool binary = false);

  std::int64_t num_features() const { return num_features_; }
  HashVariant variant() const { return variant_; }
  bool binary() const { return binary_; }

  /// The feature index of a term: the non-negative remainder of its signed 32-bit hash
  /// (seed 42) by num_features.
  std::int64_t index_of(std::string_view term) const;

  /// Documents (each a list of terms) to a sparse matrix of documents x num_features,
  /// float64, split by rows. Collective: each rank passes its own documents, which
  /// become rows in rank order (rank 0's first), so the matrix does not depend on how
  /// the documents were spread. Terms hashed to the same index have their counts summed.
  Array transform(const std::vector<std::vector<std::string>>& local_documents) const;

  /// The same from texts, each split into terms by `terms` (for_each_token, a
  /// for_each_split lambda, ...), which passes them to the hashing as it finds them:
  /// no string is made per term.
  Array transform_texts(const std::vector<std::string>& local_texts,
                        const std::function<void(std::string_view, const std::function<void(std::string_view)>&)>& terms) const;

 private:
  std::int64_t num_features_;
  HashVariant variant_;
  bool binary_;
};

}  // namespace spartanxx::ml

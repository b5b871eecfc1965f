// spartanxx::ml::HashingTF: both MurmurHash3 variants against published reference
// values and Spark's documented example, and the term-count matrix against a serial
// computation written out here, the same at every rank count.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mpi/sparse_support.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/ml/hashing_tf.hpp"
#include "spartanxx/ml/idf.hpp"
#include "spartanxx/ml/logistic_regression.hpp"
#include "spartanxx/ml/metrics.hpp"
#include "spartanxx/ml/tokenizer.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace ml = spartanxx::ml;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;

namespace {

std::uint32_t canonical(const std::string& s, std::uint32_t seed) { return ml::murmur3_32(s.data(), s.size(), seed); }
std::uint32_t legacy(const std::string& s, std::uint32_t seed) {
  return ml::murmur3_32_spark_legacy(s.data(), s.size(), seed);
}

// The widely published MurmurHash3_x86_32 test vectors (they exercise every tail length).
TEST(MlHashing, Murmur3ReferenceVectors) {
  EXPECT_EQ(canonical("", 0), 0x00000000u);
  EXPECT_EQ(canonical("", 1), 0x514E28B7u);
  EXPECT_EQ(canonical("", 0xffffffffu), 0x81F16F39u);
  EXPECT_EQ(canonical(std::string("\xff\xff\xff\xff", 4), 0), 0x76293B50u);
  EXPECT_EQ(canonical(std::string("\x21\x43\x65\x87", 4), 0), 0xF55B516Bu);
  EXPECT_EQ(canonical(std::string("\x21\x43\x65\x87", 4), 0x5082EDEEu), 0x2362F9DEu);
  EXPECT_EQ(canonical(std::string("\x21\x43\x65", 3), 0), 0x7E4A8634u);
  EXPECT_EQ(canonical(std::string("\x21\x43", 2), 0), 0xA0F7B07Au);
  EXPECT_EQ(canonical(std::string("\x21", 1), 0), 0x72661CF4u);
  EXPECT_EQ(canonical(std::string("\0\0\0\0", 4), 0), 0x2362F9DEu);
  EXPECT_EQ(canonical(std::string("\0\0\0", 3), 0), 0x85F0B427u);
  EXPECT_EQ(canonical(std::string("\0\0", 2), 0), 0x30F4C306u);
  EXPECT_EQ(canonical(std::string("\0", 1), 0), 0x514E28B7u);
  EXPECT_EQ(canonical("aaaa", 0x9747b28cu), 0x5A97808Au);
  EXPECT_EQ(canonical("aaa", 0x9747b28cu), 0x283E0130u);
  EXPECT_EQ(canonical("aa", 0x9747b28cu), 0x5D211726u);
  EXPECT_EQ(canonical("a", 0x9747b28cu), 0x7FA09EA6u);
  EXPECT_EQ(canonical("abcd", 0x9747b28cu), 0xF0478627u);
  EXPECT_EQ(canonical("abc", 0x9747b28cu), 0xC84A62DDu);
  EXPECT_EQ(canonical("ab", 0x9747b28cu), 0x74875592u);
  EXPECT_EQ(canonical("Hello, world!", 0x9747b28cu), 0x24884CBAu);
  EXPECT_EQ(canonical("The quick brown fox jumps over the lazy dog", 0x9747b28cu), 0x2FA826CDu);
}

/// Spark's legacy tail rule written out for a 1-byte input: the byte, sign-extended to a
/// 32-bit word, goes through the block mixing, then the finalization with length 1.
std::uint32_t legacy_one_byte(unsigned char b, std::uint32_t seed) {
  auto rotl = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  std::uint32_t k = static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<signed char>(b)));
  k = rotl(k * 0xcc9e2d51u, 15) * 0x1b873593u;
  std::uint32_t h = rotl(seed ^ k, 13) * 5 + 0xe6546b64u;
  h ^= 1u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// Spark's legacy variant differs only in the tail: equal on whole blocks, different
// otherwise; a tail byte is sign-extended and mixed as a block of its own.
TEST(MlHashing, LegacyVariantDiffersOnlyInTheTail) {
  for (const std::string& s : std::vector<std::string>{"", "abcd", "12345678", "The quick brown fox jumps over the lazy dog!!!!!"})
    EXPECT_EQ(legacy(s, 42), canonical(s, 42)) << s;
  for (const std::string& s : std::vector<std::string>{"a", "ab", "abc", "hello", "spark", "\xc3\xa9"})
    EXPECT_NE(legacy(s, 42), canonical(s, 42)) << s;
  for (unsigned b : {0x00u, 0x41u, 0x7fu, 0x80u, 0xc3u, 0xffu}) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(legacy(one, 42), legacy_one_byte(static_cast<unsigned char>(b), 42)) << "byte " << b;
  }
}

// The example of Spark's documentation (spark.mllib, 32 features).
TEST(MlHashing, SparkDocumentationExample) {
  const ml::HashingTF tf(32);
  std::vector<std::int64_t> idx;
  for (const char* t : {"hi", "i", "heard", "about", "spark"}) idx.push_back(tf.index_of(t));
  std::vector<std::vector<std::string>> docs;
  if (world_rank() == 0) docs.push_back({"hi", "i", "heard", "about", "spark"});
  const sx::Array m = tf.transform(docs);
  EXPECT_TRUE(m.is_sparse());
  const Eigen::MatrixXd d = sx::to_eigen(m);
  ASSERT_EQ(d.rows(), 1);
  ASSERT_EQ(d.cols(), 32);
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(1, 32);
  want(0, 1) = 3.0;
  want(0, 13) = 1.0;
  want(0, 24) = 1.0;
  spartanxx_test::expect_mat_near(d, want);
}

/// A corpus with an empty document, repeated terms, UTF-8 terms and collisions.
std::vector<std::vector<std::string>> corpus() {
  std::vector<std::vector<std::string>> docs;
  const std::vector<std::string> words = {"spam", "ham", "free", "money", "naïve", "日本語", "a", "", "win", "click"};
  for (int d = 0; d < 23; ++d) {
    std::vector<std::string> doc;
    if (d % 9 != 4)
      for (int k = 0; k < 1 + (d * 7) % 11; ++k) doc.push_back(words[static_cast<std::size_t>((d * 3 + k * k) % 10)]);
    docs.push_back(doc);
  }
  return docs;
}

/// The term-count matrix written out: index_of for every term, counts summed.
Eigen::MatrixXd reference(const ml::HashingTF& tf, const std::vector<std::vector<std::string>>& docs) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(docs.size()), tf.num_features());
  for (std::size_t d = 0; d < docs.size(); ++d)
    for (const std::string& t : docs[d]) {
      double& v = m(static_cast<Eigen::Index>(d), tf.index_of(t));
      v = tf.binary() ? 1.0 : v + 1.0;
    }
  return m;
}

// Each rank passes a contiguous block of the corpus (uneven, some ranks none): the
// matrix equals the serial one at every rank count, for both variants, with collisions
// (8 features) and without, and binary.
TEST(MlHashing, TransformEqualsSerialCountsAtEveryRankCount) {
  const auto docs = corpus();
  const int P = world_size(), me = world_rank();
  const std::size_t n = docs.size();
  // Rank r takes docs [lo(r), lo(r + 1)), skewed towards the last ranks.
  auto lo = [&](int r) { return n * static_cast<std::size_t>(r) * static_cast<std::size_t>(r) / (static_cast<std::size_t>(P) * P); };
  const std::vector<std::vector<std::string>> mine(docs.begin() + static_cast<std::ptrdiff_t>(lo(me)),
                                                   docs.begin() + static_cast<std::ptrdiff_t>(lo(me + 1)));
  for (ml::HashVariant v : {ml::HashVariant::mllib, ml::HashVariant::ml})
    for (std::int64_t features : {std::int64_t{8}, std::int64_t{1} << 12})
      for (bool binary : {false, true}) {
        const ml::HashingTF tf(features, v, binary);
        const sx::Array m = tf.transform(mine);
        EXPECT_EQ(m.shape(), (sx::Shape{static_cast<std::int64_t>(n), features}));
        spartanxx_test::expect_mat_near(sx::to_eigen(m), reference(tf, docs));
      }
  // Beyond 2^24 features repeats are found by sorting instead of a dense count table.
  for (bool binary : {false, true}) {
    const ml::HashingTF tf((std::int64_t{1} << 24) + 1, ml::HashVariant::mllib, binary);
    const Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> got = sx::to_eigen_sparse(tf.transform(mine));
    std::vector<Eigen::Triplet<double, std::int64_t>> want;
    for (std::size_t d = 0; d < n; ++d) {
      std::map<std::int64_t, double> row;
      for (const std::string& t : docs[d]) row[tf.index_of(t)] = binary ? 1.0 : row[tf.index_of(t)] + 1.0;
      for (const auto& [c, v] : row) want.emplace_back(static_cast<std::int64_t>(d), c, v);
    }
    Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> ref(static_cast<std::int64_t>(n), tf.num_features());
    ref.setFromTriplets(want.begin(), want.end());
    ASSERT_EQ(got.rows(), ref.rows());
    ASSERT_EQ(got.cols(), ref.cols());
    ASSERT_EQ(got.nonZeros(), ref.nonZeros());
    EXPECT_EQ((got - ref).norm(), 0.0);
  }
}

// The texts path (terms found by for_each_token and passed to the hashing as they are
// found) gives the matrix that tokenize + transform give, at every rank count.
TEST(MlHashing, TransformTextsEqualsTokenizedTransform) {
  std::vector<std::string> texts;
  const std::vector<std::string> words = {"Spam", "ham", "FREE", "money", "naïve", "日本語", "a", "", "Win", "click"};
  for (int d = 0; d < 31; ++d) {
    std::string t;
    for (int k = 0; k < (d * 5) % 13; ++k) t += words[static_cast<std::size_t>((d + k * k) % 10)] + (k % 4 == 3 ? "  " : " ");
    if (d % 7 == 2) t = "\t" + t;  // a leading empty term
    texts.push_back(t);
  }
  const int P = world_size(), me = world_rank();
  const std::size_t n = texts.size();
  auto lo = [&](int r) { return n * static_cast<std::size_t>(P - r) / static_cast<std::size_t>(P); };  // reversed: rank 0 last
  const std::size_t a = n - lo(me), b = n - lo(me + 1);
  const std::vector<std::string> mine(texts.begin() + static_cast<std::ptrdiff_t>(a), texts.begin() + static_cast<std::ptrdiff_t>(b));
  std::vector<std::vector<std::string>> all_terms;
  for (const std::string& t : texts) all_terms.push_back(ml::tokenize(t));
  for (bool binary : {false, true}) {
    const ml::HashingTF tf(64, ml::HashVariant::mllib, binary);
    const sx::Array m = tf.transform_texts(mine, [](std::string_view s, const ml::TermSink& emit) { ml::for_each_token(s, emit); });
    ASSERT_EQ(m.shape(), (sx::Shape{static_cast<std::int64_t>(n), 64}));
    EXPECT_TRUE(m.is_sparse());
    spartanxx_test::expect_mat_near(sx::to_eigen(m), reference(tf, all_terms));
  }
}

// index_of is the non-negative remainder of the signed 32-bit hash, by powers of two
// (taken as a bit mask) and by other counts alike.
TEST(MlHashing, IndexIsTheNonNegativeRemainderOfTheSignedHash) {
  for (ml::HashVariant v : {ml::HashVariant::mllib, ml::HashVariant::ml})
    for (std::int64_t features : {std::int64_t{1}, std::int64_t{32}, std::int64_t{1000}, std::int64_t{1} << 18,
                                  (std::int64_t{1} << 20) + 7, std::int64_t{1} << 31}) {
      const ml::HashingTF tf(features, v);
      for (int k = 0; k < 2000; ++k) {
        const std::string term = "t" + std::to_string(k * 7919);
        const std::uint32_t h = v == ml::HashVariant::mllib ? legacy(term, 42) : canonical(term, 42);
        const std::int64_t r = static_cast<std::int64_t>(static_cast<std::int32_t>(h)) % features;
        ASSERT_EQ(tf.index_of(term), r < 0 ? r + features : r) << term << " mod " << features;
      }
    }
}

TEST(MlHashing, BadFeatureCountIsAnError) {
  EXPECT_THROW(ml::HashingTF(0), sx::value_error);
  EXPECT_THROW(ml::HashingTF(-5), sx::value_error);
  EXPECT_THROW(ml::HashingTF((std::int64_t{1} << 31) + 1), sx::value_error);
}

}  // namespace

namespace {

// IDF fit and transform against the formula computed here on the same matrix: negative
// and zero stored values do not count as documents containing the term; minDocFreq.
TEST(MlIdf, FitAndTransformEqualTheFormula) {
  const std::int64_t n = 31, d = 19;
  std::vector<spartanxx_test::Trip> t;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j)
      if ((i * 5 + j * 3) % 7 < 2 + j % 3) t.emplace_back(i, j, ((i + j) % 6 == 0) ? -1.5 : ((i * j) % 5 == 1 ? 0.0 : 1.0 + (i % 3)));
  const Eigen::MatrixXd e = Eigen::MatrixXd(spartanxx_test::eigen_of(n, d, t));
  const sx::Array tf = spartanxx_test::from_shares(n, d, t);
  for (std::int64_t min_df : {std::int64_t{0}, std::int64_t{4}, std::int64_t{9}}) {
    Eigen::VectorXd want(d);
    for (std::int64_t j = 0; j < d; ++j) {
      std::int64_t df = 0;
      for (std::int64_t i = 0; i < n; ++i) df += e(i, j) > 0;
      want(j) = df >= min_df ? std::log((n + 1.0) / (df + 1.0)) : 0.0;
    }
    const ml::IDFModel model = ml::IDF(min_df).fit(tf);
    spartanxx_test::expect_mat_near(sx::to_eigen(model.idf()), Eigen::MatrixXd(want));
    const sx::Array out = model.transform(tf);
    EXPECT_TRUE(out.is_sparse());
    spartanxx_test::expect_mat_near(sx::to_eigen(out), Eigen::MatrixXd(e * want.asDiagonal()));
  }
  EXPECT_THROW(ml::IDF(-1), sx::value_error);
  const ml::IDFModel model = ml::IDF().fit(tf);
  spartanxx_test::expect_error<sx::shape_error>([&] { model.transform(spartanxx_test::from_shares(n, d + 1, t)).evaluate(); },
                                                {"IDFModel.transform", "19 features"});
}

}  // namespace

namespace {

/// Spark's LogisticRegressionWithSGD rules written out on one node with Eigen.
struct RefModel {
  Eigen::VectorXd w;
  double b;
  int iterations;
  std::vector<double> loss;
};
RefModel reference_sgd(const Eigen::MatrixXd& X, const Eigen::VectorXd& y, const ml::SGDOptions& o,
                       const std::vector<Eigen::VectorXd>& masks) {
  RefModel m{Eigen::VectorXd::Zero(X.cols()), o.intercept ? 1.0 : 0.0, 0, {}};
  double reg = 0.5 * o.reg_param * m.b * m.b;
  bool have_previous = false;
  for (int i = 1; i <= o.num_iterations; ++i) {
    const Eigen::VectorXd mask = o.mini_batch_fraction >= 1 ? Eigen::VectorXd::Ones(X.rows()) : masks[static_cast<std::size_t>(i - 1)];
    m.iterations = i;
    const double count = mask.sum();
    if (count == 0) continue;
    Eigen::VectorXd g = Eigen::VectorXd::Zero(X.cols());
    double gb = 0, loss = 0;
    for (Eigen::Index r = 0; r < X.rows(); ++r) {
      if (mask(r) == 0) continue;
      const double margin = X.row(r).dot(m.w) + m.b;
      const double mult = 1.0 / (1.0 + std::exp(-margin)) - y(r);
      g += mult * X.row(r).transpose();
      gb += mult;
      loss += y(r) > 0 ? std::log1p(std::exp(-margin)) : std::log1p(std::exp(margin));
    }
    m.loss.push_back(loss / count + reg);
    const double eta = o.step_size / std::sqrt(double(i));
    const Eigen::VectorXd w_new = m.w * (1 - eta * o.reg_param) - eta * g / count;
    const double b_new = o.intercept ? m.b * (1 - eta * o.reg_param) - eta * gb / count : 0.0;
    const double norm_new = std::sqrt(w_new.squaredNorm() + b_new * b_new);
    reg = 0.5 * o.reg_param * norm_new * norm_new;
    const double diff = std::sqrt((w_new - m.w).squaredNorm() + (b_new - m.b) * (b_new - m.b));
    m.w = w_new;
    m.b = b_new;
    if (have_previous && diff < o.convergence_tol * std::max(norm_new, 1.0)) break;
    have_previous = true;
  }
  return m;
}

// SGD weights, intercept, iteration count (early stop) and loss history equal the
// single-node reference to 1e-9 at every rank count: full batches (the gradient is one
// pass over X), with an intercept, with Bernoulli mini-batches, sparse and dense X.
TEST(MlLogisticSgd, EqualsSingleNodeReference) {
  const std::int64_t n = 157, d = 12;
  std::vector<spartanxx_test::Trip> t;
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < d; ++j)
      if (u(gen) < 0.3) t.emplace_back(i, j, u(gen) * 2 - 0.5);
  const Eigen::MatrixXd Xe = Eigen::MatrixXd(spartanxx_test::eigen_of(n, d, t));
  Eigen::VectorXd truth(d);
  for (std::int64_t j = 0; j < d; ++j) truth(j) = (j % 3) - 1.0;
  Eigen::VectorXd ye(n);
  for (std::int64_t i = 0; i < n; ++i) ye(i) = Xe.row(i).dot(truth) + 0.3 * (u(gen) - 0.5) > 0 ? 1.0 : 0.0;
  const sx::Array Xs = spartanxx_test::from_shares(n, d, t);
  const sx::Array Xd = sx::from_eigen(Xe);
  const sx::Array ys = sx::from_eigen(ye);
  struct Case {
    bool intercept;
    double fraction;
    int iterations;
    double tol;
  };
  for (const Case c : {Case{false, 1.0, 100, 0.001}, Case{true, 1.0, 60, 1e-4}, Case{false, 0.5, 40, 0.0},
                       Case{true, 0.3, 30, 0.001}}) {
    ml::SGDOptions o;
    o.intercept = c.intercept;
    o.mini_batch_fraction = c.fraction;
    o.num_iterations = c.iterations;
    o.convergence_tol = c.tol;
    std::vector<Eigen::VectorXd> masks;
    for (int i = 1; i <= o.num_iterations; ++i) {
      const Eigen::MatrixXd draw = sx::to_eigen(sx::random::uniform({n}, o.seed + static_cast<std::uint64_t>(i)));
      masks.push_back((draw.col(0).array() < c.fraction).cast<double>().matrix());
    }
    const RefModel want = reference_sgd(Xe, ye, o, masks);
    for (const sx::Array* X : {&Xs, &Xd}) {
      const ml::LogisticRegressionModel got = ml::train_logistic_regression_sgd(*X, ys, o);
      EXPECT_EQ(got.iterations(), want.iterations) << "intercept " << c.intercept << ", fraction " << c.fraction;
      spartanxx_test::expect_mat_near(sx::to_eigen(got.weights()), Eigen::MatrixXd(want.w), 1e-9);
      EXPECT_NEAR(got.intercept(), want.b, 1e-9 * std::max(1.0, std::abs(want.b)));
      ASSERT_EQ(got.loss_history().size(), want.loss.size());
      for (std::size_t k = 0; k < want.loss.size(); ++k) EXPECT_NEAR(got.loss_history()[k], want.loss[k], 1e-9);
      // Predictions: σ(X w + b) > 0.5.
      const Eigen::VectorXd p = ((-(Xe * want.w).array() - want.b).exp() + 1.0).inverse().matrix();
      spartanxx_test::expect_mat_near(sx::to_eigen(got.predict_probability(*X)), Eigen::MatrixXd(p), 1e-9);
      spartanxx_test::expect_mat_near(sx::to_eigen(got.predict(*X)), Eigen::MatrixXd((p.array() > 0.5).cast<double>().matrix()));
    }
  }
  // A looser tolerance stops early, at the reference's iteration.
  ml::SGDOptions o;
  o.convergence_tol = 0.03;
  const ml::LogisticRegressionModel early = ml::train_logistic_regression_sgd(Xs, ys, o);
  const RefModel want = reference_sgd(Xe, ye, o, {});
  EXPECT_LT(want.iterations, 100);
  EXPECT_EQ(early.iterations(), want.iterations);
  spartanxx_test::expect_mat_near(sx::to_eigen(early.weights()), Eigen::MatrixXd(want.w), 1e-9);
  // The full-batch gradient is one pass over X.
  const sx::Array w = sx::from_eigen(Eigen::VectorXd::Constant(d, 0.1));
  const sx::Array g = sx::dot(Xs.T(), sx::sigmoid(sx::dot(Xs, w)) - ys);
  g.evaluate();
  EXPECT_NE(sx::explain(g).find("one pass over X"), std::string::npos) << sx::explain(g);
}

TEST(MlLogisticSgd, BadInputsRaiseOnEveryRank) {
  const std::int64_t n = 23, d = 4;
  Eigen::MatrixXd Xe = Eigen::MatrixXd::Constant(n, d, 0.5);
  Eigen::VectorXd ye = Eigen::VectorXd::Zero(n);
  ye(17) = 2.0;  // on the last rank at 2-4 ranks
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); }, {"labels must be 0 or 1", "row 17", "label 2"});
  // Labels that no integer holds: NaN, and one far beyond int64 (the first bad row named).
  ye(17) = std::numeric_limits<double>::quiet_NaN();
  ye(20) = 1e300;
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); }, {"labels must be 0 or 1", "row 17", "label nan"});
  ye(17) = 0.0;
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); }, {"row 20", "label 1e+300"});
  ye(20) = 0.0;
  ye(5) = -std::numeric_limits<double>::infinity();  // on rank 0; and a fraction on another
  ye(21) = 0.5;
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); }, {"row 5", "label -inf"});
  ye(5) = 0.0;
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); }, {"row 21", "label 0.5"});
  ye(21) = 0.0;
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(Eigen::VectorXd::Ones(n))); },
      {"all 23 training labels are 1", "allow_single_class"});
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::zeros({0, d}), sx::zeros({0})); }, {"training set is empty"});
  ye(17) = 0.0;  // one class: an error naming it, unless allowed (Spark trains on it)
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye)); },
      {"LogisticRegressionWithSGD: all 23 training labels are 0", "allow_single_class"});
  ml::SGDOptions one;
  one.allow_single_class = true;
  one.num_iterations = 3;
  EXPECT_EQ(ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye), one).iterations(), 3);
  ye(17) = 1.0;
  const auto model = ml::train_logistic_regression_sgd(sx::from_eigen(Xe), sx::from_eigen(ye));
  spartanxx_test::expect_error<sx::shape_error>([&] { model.predict(sx::zeros({3, d + 2})).evaluate(); },
                                                {"the model has 4 features", "the data 6"});
}

}  // namespace

namespace {

// Metrics against definitions written out here: counts, zero-division cases, tied
// scores in the AUC (pairs counted half), clipped log loss.
TEST(MlMetrics, BinaryMetricsEqualTheDefinitions) {
  const std::int64_t n = 41;
  Eigen::VectorXd y(n), p(n);
  for (std::int64_t i = 0; i < n; ++i) {
    y(i) = (i * 7) % 5 < 2 ? 1.0 : 0.0;
    p(i) = ((i * 13) % 10) / 10.0;  // ties, and exact 0 and 0.9
  }
  p(3) = 1.0;  // clipped in the log loss
  const ml::BinaryMetrics m = ml::binary_metrics(sx::from_eigen(y), sx::from_eigen(p));
  double tp = 0, fp = 0, fn = 0, tn = 0, loss = 0, pairs = 0, wins = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool pr = p(i) > 0.5, pos = y(i) == 1;
    tp += pr && pos, fp += pr && !pos, fn += !pr && pos, tn += !pr && !pos;
    const double q = std::min(std::max(p(i), 1e-15), 1 - 1e-15);
    loss -= pos ? std::log(q) : std::log(1 - q);
    for (std::int64_t j = 0; j < n; ++j)
      if (pos && y(j) == 0) pairs += 1, wins += p(i) > p(j) ? 1.0 : (p(i) == p(j) ? 0.5 : 0.0);
  }
  EXPECT_EQ(m.n, n);
  EXPECT_EQ(m.positives, static_cast<std::int64_t>(tp + fn));
  EXPECT_NEAR(m.accuracy, (tp + tn) / n, 1e-15);
  EXPECT_NEAR(m.precision, tp / (tp + fp), 1e-15);
  EXPECT_NEAR(m.recall, tp / (tp + fn), 1e-15);
  EXPECT_NEAR(m.f1, 2 * tp / (2 * tp + fp + fn), 1e-15);
  EXPECT_NEAR(m.auc, wins / pairs, 1e-15);
  EXPECT_NEAR(m.log_loss, loss / n, 1e-12);
  // Nothing predicted positive; one class only.
  const ml::BinaryMetrics z = ml::binary_metrics(sx::from_eigen(y), sx::from_eigen(Eigen::VectorXd::Constant(n, 0.1)));
  EXPECT_EQ(z.precision, 0.0);
  EXPECT_EQ(z.f1, 0.0);
  EXPECT_NEAR(z.auc, 0.5, 1e-15);
  EXPECT_TRUE(std::isnan(ml::binary_metrics(sx::ones({5}), sx::full({5}, 0.7)).auc));
  spartanxx_test::expect_error<sx::shape_error>([&] { ml::binary_metrics(sx::ones({5}), sx::ones({6})); },
                                                {"binary_metrics"});
}

}  // namespace

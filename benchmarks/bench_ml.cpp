// The ML area: the TF-IDF + logistic-regression job's two costs on a labeled corpus
// (label<TAB>text per line; scripts/bench_ml.sh makes the 1 GB one and runs
// scikit-learn on the same split).
// - "featurize": read (each rank its byte range), tokenize (Spark's Tokenizer), hash
//   (HashingTF, ml variant, --ml-features) and IDF (fit on the 75% training share,
//   applied to both shares), ending with both TF-IDF matrices evaluated. Work: the
//   corpus's text bytes. No Eigen baseline: scikit-learn is the baseline (the script).
// - "sgd iteration": --ml-iterations iterations of train_logistic_regression_sgd
//   (Spark's defaults; convergence test off) on the training TF-IDF matrix, per
//   repetition. The Eigen baseline is the same update written out on one core, on an
//   Eigen::SparseMatrix (row-major, 64-bit indices) of the same matrix: margin X w,
//   loss, r = sigmoid(margin) - y, g = X^T r, the L2 step, the two norms of the
//   convergence test. Work: X's values and column indices read twice per iteration.
#include <Eigen/SparseCore>
#include <fmt/format.h>

#include <spartanxx/eigen.hpp>
#include <spartanxx/ml.hpp>
#include <spartanxx/sparse.hpp>

#include "bench_harness.hpp"

namespace spartanxx::bench {

namespace {

struct Featurized {
  Array X, Xt, y, yt;
  std::int64_t bytes = 0;
};

Featurized featurize(const Config& cfg) {
  const ml::HashingTF htf(cfg.ml_features, ml::HashVariant::ml);
  ml::Documents d = ml::read_labeled_documents(cfg.ml_corpus, nullptr);
  std::vector<std::string> train, test;
  std::vector<double> ytrain, ytest;
  for (std::size_t k = 0; k < d.texts.size(); ++k) {
    const bool in = ml::in_training_split(42, d.index[k], 0.75);
    (in ? train : test).push_back(std::move(d.texts[k]));
    (in ? ytrain : ytest).push_back(d.labels[k]);
  }
  auto terms = [](std::string_view s, const ml::TermSink& emit) { ml::for_each_token(s, emit); };
  const Array tf = htf.transform_texts(train, terms);
  const Array tft = htf.transform_texts(test, terms);
  const ml::IDFModel idf = ml::IDF().fit(tf);
  Featurized f;
  f.X = idf.transform(tf);
  f.Xt = idf.transform(tft);
  f.X.evaluate();
  f.Xt.evaluate();
  f.y = from_rank_parts(ytrain);
  f.yt = from_rank_parts(ytest);
  f.bytes = d.bytes;
  return f;
}

}  // namespace

std::vector<Result> run_ml(const Runtime& rt, const Config& cfg) {
  // 1. Featurization, timed as a whole (it is not one array expression).
  Result feat;
  feat.name = "featurize";
  feat.expression = "read + tokenize + HashingTF + IDF fit/transform";
  feat.unit = "GB/s";
  feat.baseline = "scikit-learn (bench_ml.sh)";
  Featurized f;
  for (int r = 0; r < cfg.warmup + cfg.reps; ++r) {
    f = Featurized();
    rt.barrier();
    const double t0 = MPI_Wtime();
    f = featurize(cfg);
    const double local = MPI_Wtime() - t0;
    double slowest = 0;
    MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (r >= cfg.warmup) feat.spartanxx_s.push_back(slowest);
  }
  feat.work = static_cast<double>(f.bytes);
  const std::int64_t nnz = spartanxx::nnz(f.X);
  feat.sizes = {{"bytes", f.bytes}, {"docs", f.X.shape()[0] + f.Xt.shape()[0]}, {"features", cfg.ml_features}, {"nnz", nnz}};

  // 2. SGD iterations.
  Result sgd;
  sgd.name = "sgd iteration";
  sgd.expression = "train_logistic_regression_sgd, Spark defaults, per iteration";
  sgd.unit = "GB/s";
  const int iters = cfg.ml_iterations;
  sgd.sizes = {{"n", f.X.shape()[0]}, {"d", cfg.ml_features}, {"nnz", nnz}, {"iterations", iters}};
  sgd.work = 2.0 * 16.0 * static_cast<double>(nnz) * iters;
  ml::SGDOptions o;
  o.num_iterations = iters;
  o.convergence_tol = 0;
  Array last;
  time_spartanxx(rt, cfg, sgd, &last, [&] { return ml::train_logistic_regression_sgd(f.X, f.y, o).weights(); });

  if (cfg.eigen) {
    const Eigen::VectorXd got = to_eigen(last);
    using Sparse = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;
    Sparse eX = to_eigen_sparse(f.X);  // collective; rank 0 keeps it
    Eigen::VectorXd ey = to_eigen(f.y);
    if (rt.rank() != 0) eX = Sparse(), ey.resize(0);
    const double n = static_cast<double>(f.X.shape()[0]);
    Eigen::VectorXd w, margin, r, g, w_new;
    volatile double sink = 0;
    time_eigen_rank0(rt, cfg, sgd, [&] {
      w.setZero(cfg.ml_features);
      double reg_term = 0;
      for (int i = 1; i <= iters; ++i) {
        margin.noalias() = eX * w;
        const double loss =
            (margin.array().max(0.0) + (-margin.array().abs()).exp().log1p() - ey.array() * margin.array()).sum() / n +
            reg_term;
        r = (1.0 / (1.0 + (-margin.array()).exp())).matrix() - ey;
        g.noalias() = eX.transpose() * r;
        const double eta = o.step_size / std::sqrt(static_cast<double>(i));
        w_new = (1.0 - eta * o.reg_param) * w - (eta / n) * g;
        const double norm_new = w_new.norm();
        reg_term = 0.5 * o.reg_param * norm_new * norm_new;
        const double diff = (w_new - w).norm();
        sink = loss + diff;  // the loss and the convergence test are part of an iteration: kept
        w.swap(w_new);
      }
    });
    if (rt.rank() == 0) sgd.max_rel_error = max_rel_error(got, w);
  }

  // 3. The model's quality on the held-out share (printed; bench_ml.sh compares it).
  ml::SGDOptions full;
  const ml::LogisticRegressionModel model = ml::train_logistic_regression_sgd(f.X, f.y, full);
  const ml::BinaryMetrics m = ml::binary_metrics(f.yt, model.predict_probability(f.Xt));
  if (rt.rank() == 0)
    fmt::print("ml: {} iterations (Spark defaults) on {} training documents: test accuracy {:.4f}, AUC {:.4f} ({} test "
               "documents)\n",
               model.iterations(), f.X.shape()[0], m.accuracy, m.auc, m.n);
  return {feat, sgd};
}

}  // namespace spartanxx::bench

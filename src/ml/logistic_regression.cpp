// spartanxx::ml::train_logistic_regression_sgd, on the public API only.
#include "spartanxx/ml/logistic_regression.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "spartanxx/creation.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "spartanxx/runtime.hpp"
#include "ml/logistic.hpp"

namespace spartanxx::ml {

LogisticRegressionModel::LogisticRegressionModel(Array weights, double intercept, int iterations,
                                                 std::vector<double> loss_history)
    : weights_(std::move(weights)), intercept_(intercept), iterations_(iterations), loss_history_(std::move(loss_history)) {}

Array LogisticRegressionModel::predict_probability(const Array& X) const {
  if (X.shape().size() != 2 || X.shape()[1] != weights_.shape()[0])
    throw shape_error(fmt::format("LogisticRegressionModel.predict: the model has {} features, the data {}",
                                  weights_.shape()[0], X.shape().size() == 2 ? X.shape()[1] : -1));
  return sigmoid(dot(X, weights_) + intercept_);
}

Array LogisticRegressionModel::predict(const Array& X) const {
  return (predict_probability(X) > threshold_).astype(DType::f64);
}

Array LogisticRegressionModel::predict_probability_texts(const std::vector<std::string>& local_texts) const {
  if (!features_)
    throw value_error("LogisticRegressionModel.predict_probability_texts: the model has no featurization (set_features)");
  return predict_probability(features_->transform(local_texts));
}

namespace {
constexpr const char* kModelKind = "logistic-regression-model";
constexpr double kModelVersion = 1;
}  // namespace

void LogisticRegressionModel::save(const std::string& path) const {
  io::Snapshot s;
  s.kind = kModelKind;
  s.step = iterations_;
  s.arrays["weights"] = weights_;
  s.scalars = {{"model-version", kModelVersion}, {"intercept", intercept_}, {"threshold", threshold_}};
  s.series["loss_history"] = loss_history_;
  if (features_) {
    const TextFeatures& f = *features_;
    s.scalars["num_features"] = static_cast<double>(f.hashing.num_features());
    s.scalars["binary"] = f.hashing.binary() ? 1 : 0;
    s.scalars["gaps"] = f.tokenizer.gaps ? 1 : 0;
    s.scalars["min_token_length"] = static_cast<double>(f.tokenizer.min_token_length);
    s.scalars["lowercase"] = f.tokenizer.lowercase ? 1 : 0;
    s.texts = {{"hash", f.hashing.variant() == HashVariant::ml ? "ml" : "mllib"},
               {"tokenizer", f.tokenizer.kind},
               {"pattern", f.tokenizer.pattern},
               {"delimiter", std::string(1, f.tokenizer.delimiter)}};
    if (f.idf) s.arrays["idf"] = f.idf->idf();
  }
  io::checkpoint(path, s, /*keep_previous=*/false);
}

LogisticRegressionModel LogisticRegressionModel::load(const std::string& path) {
  io::Snapshot s = io::read_checkpoint(path);
  Runtime::current().run_agreed([&] {
    if (s.kind != kModelKind)
      throw io_error(fmt::format("LogisticRegressionModel.load: {} holds a \"{}\", not a logistic regression model", path, s.kind));
    const auto v = s.scalars.find("model-version");
    if (v == s.scalars.end() || v->second != kModelVersion)
      throw io_error(fmt::format("LogisticRegressionModel.load: {} has model version {}; this spartanxx reads version {}", path,
                                 v == s.scalars.end() ? -1.0 : v->second, kModelVersion));
    for (const char* k : {"intercept", "threshold"})
      if (!s.scalars.count(k)) throw io_error(fmt::format("LogisticRegressionModel.load: {} has no {}", path, k));
    if (!s.arrays.count("weights") || s.arrays.at("weights").shape().size() != 1)
      throw io_error(fmt::format("LogisticRegressionModel.load: {} has no weight vector", path));
  });
  LogisticRegressionModel m(s.arrays.at("weights"), s.scalars.at("intercept"), static_cast<int>(s.step),
                            s.series["loss_history"]);
  m.set_threshold(s.scalars.at("threshold"));
  if (s.scalars.count("num_features")) {
    TokenizerSettings t;
    t.kind = s.texts["tokenizer"];
    t.pattern = s.texts["pattern"];
    t.delimiter = s.texts["delimiter"].empty() ? ',' : s.texts["delimiter"][0];
    t.gaps = s.scalars["gaps"] != 0;
    t.lowercase = s.scalars["lowercase"] != 0;
    t.min_token_length = static_cast<std::size_t>(s.scalars["min_token_length"]);
    TextFeatures f{t,
                   HashingTF(static_cast<std::int64_t>(s.scalars["num_features"]),
                             s.texts["hash"] == "ml" ? HashVariant::ml : HashVariant::mllib, s.scalars["binary"] != 0),
                   std::nullopt};
    if (s.arrays.count("idf")) f.idf = IDFModel(s.arrays.at("idf"));
    m.set_features(std::move(f));
  }
  return m;
}

void detail::check_labels(const char* op, const Array& y, std::int64_t n, bool allow_single_class) {
  if (y.shape().size() != 1 || y.shape()[0] != n)
    throw shape_error(fmt::format("{}: {} rows of features but labels of {} dimensions and {} entries", op, n,
                                  y.shape().size(), y.shape().empty() ? 0 : y.shape()[0]));
  const Array bad = logical_and(y != 0.0, y != 1.0);
  // One reduction, the same at every n: a row whose label is neither 0 nor 1 adds NaN
  // (NaN labels included: they are not 0 or 1), any other its label, so the sum is NaN
  // when a label is bad and otherwise the number of positives (exact in doubles up to
  // 2^53 rows).
  const double positives =
      sum(where(bad, std::numeric_limits<double>::quiet_NaN(), y.astype(DType::f64))).item();
  const bool all_binary = !std::isnan(positives);
  if (all_binary) {
    if (allow_single_class) return;
    if (positives > 0 && positives < static_cast<double>(n)) return;
    throw value_error(fmt::format("{}: all {} training labels are {}: a classifier needs both classes (set "
                                  "allow_single_class to train on one)", op, n, positives == 0 ? 0 : 1));
  }
  const auto row = static_cast<std::int64_t>(argmax(bad).item());
  const double label = sum(where(arange(n) == static_cast<double>(row), y, 0.0)).item();
  throw value_error(fmt::format("{}: labels must be 0 or 1; row {} has label {}", op, row, label));
}

detail::TrainingCheckpoints::TrainingCheckpoints(const char* op_, const char* kind_, const CheckpointOptions& c_,
                                                 std::string options_, std::int64_t n_, std::int64_t d_)
    : op(op_), kind(kind_), c(c_), options(std::move(options_)), n(n_), d(d_) {
  if (c.every < 0) throw value_error(fmt::format("{}: checkpoint every {} iterations: must be >= 0", op, c.every));
  if (c.path.empty() && (c.every > 0 || c.resume))
    throw value_error(fmt::format("{}: checkpoints {} need a path", op, c.resume ? "to resume from" : "every few iterations"));
}

std::optional<io::Snapshot> detail::TrainingCheckpoints::resume_point() const {
  if (!c.resume) return std::nullopt;
  const Runtime& rt = Runtime::current();
  // Neither the newest nor the previous checkpoint: a run that starts (the same answer on
  // every rank: the rank-0 view of the file system decides).
  const auto here = [](const std::string& p) { return ::access(p.c_str(), F_OK) == 0; };
  const std::int64_t mine = rt.rank() == 0 && (here(c.path) || here(c.path + ".prev")) ? 1 : 0;
  if (rt.sum(mine) == 0) {
    if (c.on_resume) c.on_resume(io::Restored{});
    return std::nullopt;
  }
  io::Restored r = io::restore(c.path);
  const io::Snapshot& s = r.snapshot;
  auto text = [&](const char* k) { const auto it = s.texts.find(k); return it == s.texts.end() ? std::string() : it->second; };
  auto number = [&](const char* k) { const auto it = s.scalars.find(k); return it == s.scalars.end() ? -1.0 : it->second; };
  if (s.kind != kind)
    throw value_error(fmt::format("{}: {} is a checkpoint of \"{}\", not of this trainer (\"{}\")", op, r.file, s.kind, kind));
  if (number("rows") != static_cast<double>(n) || number("features") != static_cast<double>(d))
    throw value_error(fmt::format("{}: {} was written for {} x {} data, not {} x {}", op, r.file, number("rows"),
                                  number("features"), n, d));
  if (text("options") != options)
    throw value_error(fmt::format("{}: {} was written with other options ({}; now {})", op, r.file, text("options"), options));
  if (c.on_resume) c.on_resume(r);
  return std::move(r.snapshot);
}

void detail::TrainingCheckpoints::save(io::Snapshot s) const {
  s.kind = kind;
  s.scalars["rows"] = static_cast<double>(n);
  s.scalars["features"] = static_cast<double>(d);
  s.texts["options"] = options;
  io::checkpoint(c.path, s);
}

LogisticRegressionModel train_logistic_regression_sgd(const Array& X, const Array& y, const SGDOptions& o) {
  if (X.shape().size() != 2) throw shape_error("LogisticRegressionWithSGD: features must be a matrix (rows x features)");
  const std::int64_t n = X.shape()[0], d = X.shape()[1];
  if (n == 0) throw value_error("LogisticRegressionWithSGD: the training set is empty");
  if (!(o.mini_batch_fraction > 0 && o.mini_batch_fraction <= 1))
    throw value_error(fmt::format("LogisticRegressionWithSGD: miniBatchFraction must be in (0, 1], got {}", o.mini_batch_fraction));
  if (o.num_iterations < 0) throw value_error(fmt::format("LogisticRegressionWithSGD: numIterations {} < 0", o.num_iterations));
  detail::check_labels("LogisticRegressionWithSGD", y, n, o.allow_single_class);
  const detail::TrainingCheckpoints ckpt(
      "LogisticRegressionWithSGD", "sgd", o.checkpoint,
      fmt::format("stepSize={} regParam={} miniBatchFraction={} convergenceTol={} intercept={} seed={}", o.step_size,
                  o.reg_param, o.mini_batch_fraction, o.convergence_tol, o.intercept, o.seed),
      n, d);
  Array w = zeros({d});
  double b = o.intercept ? 1.0 : 0.0;  // Spark appends the bias feature's weight as 1
  double reg_term = 0.5 * o.reg_param * b * b;  // the L2 term of the last update, as Spark reports it
  std::vector<double> history;
  int iterations = 0;
  bool have_previous = false;
  bool converged = false;
  // The state after an iteration: what the next one reads.
  const auto save = [&] {
    ckpt.save(io::Snapshot{"", iterations, {{"weights", w}},
                           {{"intercept", b}, {"reg_term", reg_term}, {"have_previous", have_previous ? 1.0 : 0.0},
                            {"converged", converged ? 1.0 : 0.0}},
                           {{"loss_history", history}}, {}});
  };
  if (const auto s = ckpt.resume_point()) {
    w = s->arrays.at("weights");
    b = s->scalars.at("intercept");
    reg_term = s->scalars.at("reg_term");
    have_previous = s->scalars.at("have_previous") != 0;
    converged = s->scalars.at("converged") != 0;
    history = s->series.at("loss_history");
    iterations = static_cast<int>(s->step);
  }
  for (int i = iterations + 1; i <= o.num_iterations && !converged; ++i) {
    // The mini-batch: every row, or rows whose uniform draw (seed + i) is below the fraction.
    const bool all = o.mini_batch_fraction >= 1.0;
    Array batch = all ? Array() : (random::uniform({n}, o.seed + static_cast<std::uint64_t>(i)) < o.mini_batch_fraction).astype(DType::f64);
    const double count = all ? static_cast<double>(n) : sum(batch).item();
    iterations = i;
    if (count == 0) {  // Spark skips an empty mini-batch
      if (ckpt.due(i)) save();
      continue;
    }
    // The margin once (one pass over X): the loss and the gradient both read it, so the
    // gradient pass does not compute X w again.
    const Array margin = dot(X, w) + b;
    margin.evaluate();
    Array r = sigmoid(margin) - y;
    // Logistic loss log(1 + exp(m)) - y m, computed without overflow.
    Array loss = detail::logistic_loss(margin, y);
    if (!all) r = r * batch, loss = loss * batch;
    Array g, gb;
    if (o.intercept) {
      r.evaluate();
      g = dot(X.T(), r);
      gb = sum(r);
    } else {
      g = dot(X.T(), r);  // one pass over X
    }
    history.push_back(sum(loss).item() / count + reg_term);
    if (o.on_iteration) o.on_iteration(i, history.back());
    const double eta = o.step_size / std::sqrt(static_cast<double>(i));
    const double shrink = 1.0 - eta * o.reg_param;
    Array w_new = w * shrink - (eta / count) * g;
    w_new.evaluate();
    const double b_new = o.intercept ? b * shrink - eta / count * gb.item() : 0.0;
    const double wn = norm(w_new).item();
    const double norm_new = std::sqrt(wn * wn + b_new * b_new);
    reg_term = 0.5 * o.reg_param * norm_new * norm_new;
    const double dw = norm(w_new - w).item();
    const double diff = std::sqrt(dw * dw + (b_new - b) * (b_new - b));
    w = std::move(w_new);
    b = b_new;
    converged = have_previous && diff < o.convergence_tol * std::max(norm_new, 1.0);
    have_previous = true;
    if (ckpt.due(i)) save();
  }
  if (ckpt.enabled() && !ckpt.due(iterations)) save();  // where it ended
  return LogisticRegressionModel(w, o.intercept ? b : 0.0, iterations, std::move(history));
}

}  // namespace spartanxx::ml

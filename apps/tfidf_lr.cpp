// spartanxx-tfidf-lr: Spark MLlib's TF-IDF + logistic regression text classifier as an
// mpirun batch job.
//
//     mpirun -np 2 build/bin/spartanxx-tfidf-lr --train data/spamassassin.tsv.gz --test-fraction 0.25
//
// Documents are read in parallel (each rank its share of the lines), tokenized, hashed
// (HashingTF), weighted (IDF fitted on the training set), and a logistic regression is
// trained on them (SGD, as LogisticRegressionWithSGD, or L-BFGS); it is evaluated on a
// held-out share or a test file, and can label an unlabeled file. Everything after
// tokenizing is spartanxx array expressions (src/ml).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cctype>
#include <fstream>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <utility>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <spartanxx/eigen.hpp>
#include <spartanxx/io.hpp>
#include <spartanxx/ml.hpp>
#include <spartanxx/spartanxx.hpp>

namespace {

namespace sx = spartanxx;
namespace ml = spartanxx::ml;
using Clock = std::chrono::steady_clock;

struct Config {
  // Input.
  std::string train, positive, negative, test, predict, predictions = "predictions.tsv", metrics_json;
  double test_fraction = 0.25;
  std::uint64_t split_seed = 42;
  bool predict_ids = false;
  // Tokenizer.
  ml::TokenizerSettings tokenizer;
  // Features.
  std::int64_t num_features = std::int64_t{1} << 20;
  std::string hash = "mllib";
  bool binary = false;
  std::int64_t min_doc_freq = 0;
  // Model.
  std::string algorithm = "sgd";
  ml::SGDOptions sgd;
  ml::LBFGSOptions lbfgs;
  double threshold = 0.5;
  // Persistence.
  std::string model, save_model, checkpoint;
  int checkpoint_every = 0;
  bool resume = false;
  // Limits.
  std::int64_t max_memory = 0;  // bytes a rank may use (0: what the node has)
};

/// Dense vectors of num_features doubles that training holds per rank at its peak. Peak
/// RSS of one rank on a 6-document file, --num-features 2^24 and 2^25, grew by 5.0
/// vectors per feature for SGD and 33.0 for L-BFGS (its 10 pairs of history vectors, the
/// search direction, line-search points and gradients); the figures keep a margin.
constexpr double kSgdVectorsPerFeature = 8.0;
constexpr double kLbfgsVectorsPerFeature = 36.0;

/// An error the job found itself, on every rank alike (from values every rank has): rank 0
/// reports it once.
class JobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An error message as one sentence: the rank that agree() named ("[rank r] " in front,
/// if any) and the message without further rank or program prefixes.
std::pair<std::optional<int>, std::string> one_sentence(std::string m, int) {
  std::optional<int> origin;
  static const std::regex rank_prefix(R"(\[rank (\d+)\] )");
  static const std::string program = "spartanxx-tfidf-lr: ";
  std::smatch first;
  if (std::regex_search(m, first, rank_prefix) && first.position(0) == 0) {
    origin = std::stoi(first[1].str());
    m.erase(0, static_cast<std::size_t>(first.length(0)));
  }
  m = std::regex_replace(m, rank_prefix, "");
  for (std::size_t at; (at = m.find(program)) != std::string::npos;) m.erase(at, program.size());
  return {origin, m};
}

// ---- SIGINT and SIGTERM ----
// While the input is read nothing has been written: the handler says so (rank 0) and
// ends the rank at once. From training on, it only notes the signal; the ranks agree on it at the
// next iteration or step (interruption_point) and stop together, after the checkpoint or
// output being written is complete, so no temporary file is left.

volatile std::sig_atomic_t g_signal = 0;
std::atomic<bool> g_deferred{false};
std::atomic<int> g_rank{0};

extern "C" void on_signal(int sig) {
  if (!g_deferred.load()) {
    if (g_rank.load() == 0) {
      const char* m = sig == SIGINT ? "spartanxx-tfidf-lr: interrupted (SIGINT) while reading the input; nothing was written\n"
                                    : "spartanxx-tfidf-lr: interrupted (SIGTERM) while reading the input; nothing was written\n";
      [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, m, std::strlen(m));
    }
    ::_exit(128 + sig);
  }
  g_signal = sig;
}

/// Every rank's view of the signals, agreed; thrown as Interrupted on every rank alike.
struct Interrupted {
  int sig;
  std::string where;  // "at iteration 37", "after training"
};

void interruption_point(const sx::Runtime& rt, const std::string& where) {
  const std::vector<std::int64_t> all = rt.gather(static_cast<std::int64_t>(g_signal));
  const std::int64_t sig = *std::max_element(all.begin(), all.end());
  if (sig != 0) throw Interrupted{static_cast<int>(sig), where};
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }


/// Appends b's documents after a's: a's numbers first, then b's (offset by a's total).
ml::Documents concatenate(ml::Documents a, ml::Documents b) {
  for (std::size_t k = 0; k < b.texts.size(); ++k) {
    a.texts.push_back(std::move(b.texts[k]));
    a.labels.push_back(b.labels[k]);
    a.index.push_back(a.total + b.index[k]);
    a.line.push_back(b.line[k]);
  }
  a.total += b.total;
  a.empty_lines += b.empty_lines;
  a.invalid_utf8 += b.invalid_utf8;
  a.long_lines += b.long_lines;
  a.bytes += b.bytes;
  return a;
}

/// The documents of `from` that are (or are not) in the training share.
ml::Documents select(ml::Documents& from, const Config& c, bool training) {
  ml::Documents out;
  for (std::size_t k = 0; k < from.texts.size(); ++k) {
    if (ml::in_training_split(c.split_seed, from.index[k], 1.0 - c.test_fraction) != training) continue;
    out.texts.push_back(std::move(from.texts[k]));
    out.labels.push_back(from.labels[k]);
    out.index.push_back(from.index[k]);
    out.line.push_back(from.line[k]);
  }
  return out;
}


// ---- checks before the work ----

/// A command-line check that says what is allowed: a number of at least `lo` (or, with
/// `strict`, above it), and at most `hi`.
CLI::Validator number_in(double lo, bool strict, double hi = std::numeric_limits<double>::infinity()) {
  const std::string allowed = fmt::format("{} {}{}", strict ? "above" : "at least", lo,
                                          std::isinf(hi) ? std::string() : fmt::format(" and at most {}", hi));
  return CLI::Validator(
      [lo, hi, strict, allowed](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) throw std::invalid_argument(text);
        } catch (const std::exception&) {
          return fmt::format("{} is not a number", text);
        }
        if (std::isnan(v) || (strict ? v <= lo : v < lo) || v > hi) return fmt::format("{} is not allowed: it must be {}", text, allowed);
        return {};
      },
      allowed);
}

std::string gigabytes(double bytes) { return fmt::format("{:.2f} GB", bytes / 1e9); }

/// Everything that can be checked before reading a byte of the corpus, on every rank
/// (agreed: every rank fails together, rank 0 reports it): the input files are readable
/// files, every output's directory exists and takes a new file (a probe file is created
/// and removed), no output is a directory or an input, and the model's vectors fit in
/// the memory a rank may use.
void preflight(const sx::Runtime& rt, const Config& c) {
  rt.run_agreed([&] {
    const std::vector<std::pair<const char*, std::string>> inputs = {
        {"--train", c.train}, {"--positive", c.positive}, {"--negative", c.negative},
        {"--test", c.test},   {"--predict", c.predict},   {"--model", c.model}};
    for (const auto& [flag, path] : inputs) {
      if (path.empty()) continue;
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0)
        throw sx::io_error(fmt::format("{} {}: cannot read it: {}", flag, path, std::strerror(errno)));
      if (S_ISDIR(st.st_mode)) throw sx::io_error(fmt::format("{} {}: is a directory, not a file", flag, path));
      if (::access(path.c_str(), R_OK) != 0)
        throw sx::io_error(fmt::format("{} {}: cannot read it: {}", flag, path, std::strerror(errno)));
    }
    std::vector<std::pair<const char*, std::string>> outputs = {
        {"--metrics-json", c.metrics_json}, {"--save-model", c.save_model}, {"--checkpoint", c.checkpoint}};
    if (!c.predict.empty()) outputs.emplace_back("--predictions", c.predictions);
    for (const auto& [flag, path] : outputs) {
      if (path.empty()) continue;
      for (const auto& [in_flag, in_path] : inputs)
        if (!in_path.empty() && in_path == path)
          throw sx::io_error(fmt::format("{} {}: is also the input {}; it would be overwritten", flag, path, in_flag));
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw sx::io_error(fmt::format("{} {}: is a directory; name a file", flag, path));
      const std::string::size_type slash = path.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw sx::io_error(fmt::format("{} {}: the directory {} does not exist", flag, path, dir));
      // A probe file beside it (each rank its own name): the directory takes new files.
      const std::string probe = fmt::format("{}/.spartanxx-probe-{}-{}", dir, ::getpid(), rt.rank());
      const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd < 0)
        throw sx::io_error(fmt::format("{} {}: cannot write in {}: {}", flag, path, dir, std::strerror(errno)));
      ::close(fd);
      ::unlink(probe.c_str());
    }
    // Memory: the model's dense vectors of num_features doubles (weights, gradient and
    // its sum, IDF and document frequencies, L-BFGS history), per rank.
    const double vectors = c.algorithm == "lbfgs" ? kLbfgsVectorsPerFeature : kSgdVectorsPerFeature;
    const double need = vectors * 8.0 * static_cast<double>(c.num_features);
    const auto [may, why] = sx::memory_limit();
    if (may > 0 && need > static_cast<double>(may))
      throw sx::value_error(fmt::format(
          "--num-features {} needs about {} per rank for the model's vectors ({:.0f} vectors of {} doubles) but a "
          "rank may use {} ({}); lower --num-features or raise --max-memory",
          c.num_features, gigabytes(need), vectors, c.num_features, gigabytes(static_cast<double>(may)), why));
  });
}

/// Progress of training on rank 0: a live line on a terminal, plain lines otherwise
/// (every 10th iteration and the first).
class Progress {
 public:
  Progress(bool root, int total) : root_(root), live_(root && isatty(STDERR_FILENO)), total_(total), t0_(Clock::now()) {}
  void operator()(int iteration, double loss) {
    if (!root_) return;
    const std::string text =
        fmt::format("  iteration {:>4}/{}  loss {:.6f}  {:.2f} s", iteration, total_, loss, seconds_since(t0_));
    if (live_) {
      fmt::print(stderr, "\r{}\x1b[K", text);
      dirty_ = true;
    } else if (iteration == 1 || iteration % 10 == 0) {
      fmt::print(stderr, "{}\n", text);
    }
    std::fflush(stderr);
  }
  void done() {
    if (dirty_) fmt::print(stderr, "\n");
    dirty_ = false;
  }

 private:
  bool root_, live_;
  int total_;
  Clock::time_point t0_;
  bool dirty_ = false;
};

nlohmann::json metrics_json(const ml::BinaryMetrics& m) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"examples", m.n},     {"positives", m.positives}, {"accuracy", num(m.accuracy)},
          {"precision", num(m.precision)}, {"recall", num(m.recall)}, {"f1", num(m.f1)},
          {"auc", num(m.auc)},   {"log_loss", num(m.log_loss)}};
}

void print_metrics(const char* name, const ml::BinaryMetrics& m) {
  fmt::print("  {:<5} {:>7} docs ({:>6} positive)  accuracy {:.4f}  precision {:.4f}  recall {:.4f}  F1 {:.4f}  "
             "AUC {:.4f}  log loss {:.4f}\n",
             name, m.n, m.positives, m.accuracy, m.precision, m.recall, m.f1, m.auc, m.log_loss);
}

/// Writes "id<TAB>prediction<TAB>probability" for every document of an unlabeled file.
std::int64_t predict_file(const Config& c, const ml::LogisticRegressionModel& model) {
  sx::io::TextLines t = sx::io::read_text_lines(c.predict);
  std::vector<std::string> texts;
  std::vector<std::string> ids;
  std::int64_t bad_line = -1;  // the first line (from 0) of this rank without an id
  for (std::size_t k = 0; k < t.lines.size(); ++k) {
    std::string& line = t.lines[k];
    if (line.find_first_not_of(" \t\r\v\f") == std::string::npos) continue;  // blank: no document
    ml::repair_utf8(line);
    if (c.predict_ids) {
      const std::size_t comma = line.find(',');
      if (comma == std::string::npos || comma == 0) {
        if (bad_line < 0) bad_line = t.first_line + static_cast<std::int64_t>(k);
        continue;
      }
      ids.push_back(line.substr(0, comma));
      line.erase(0, comma + 1);
    } else {
      ids.push_back(std::to_string(t.first_line + static_cast<std::int64_t>(k)));  // the line number, from 0
    }
    texts.push_back(std::move(line));
  }
  // The first line without an id over all ranks, reported the same on every rank.
  const auto firsts = sx::Runtime::current().gather(bad_line);
  for (const std::int64_t f : firsts)
    if (f >= 0)
      throw JobError(fmt::format("{} line {}: no id: with --predict-ids every line is id,text (an id, a comma, "
                                        "the text)", c.predict, f + 1));
  const sx::Array P = model.predict_probability_texts(texts);
  const Eigen::VectorXd p = sx::to_eigen(P);  // every rank: n values
  const std::int64_t first = sx::Runtime::current().exclusive_sum(static_cast<std::int64_t>(ids.size()));
  std::string out;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    const double prob = p(first + static_cast<std::int64_t>(k));
    fmt::format_to(std::back_inserter(out), "{}\t{}\t{:.6f}\n", ids[k], prob > model.threshold() ? 1 : 0, prob);
  }
  sx::io::write_text(c.predictions, out);
  return static_cast<std::int64_t>(P.shape()[0]);
}

/// Reads the labeled input: the training file (or --positive/--negative) split into its
/// training and held-out shares, or --test.
struct Input {
  ml::Documents train, test;
  std::string source;
  std::int64_t documents = 0, bytes = 0, blank = 0, invalid_utf8 = 0, long_lines = 0, test_bytes = 0;
};

Input read_input(const sx::Runtime& rt, const Config& c) {
  Input in;
  ml::Documents all;
  if (!c.train.empty()) {
    all = ml::read_labeled_documents(c.train, nullptr);
    ml::check_binary_labels(all, c.train);
    in.source = c.train;
  } else if (!c.positive.empty()) {
    all = concatenate(ml::read_documents(c.positive, 1.0, nullptr), ml::read_documents(c.negative, 0.0, nullptr));
    in.source = c.positive + " + " + c.negative;
  }
  // The training input's counters (over all ranks), before it is split or moved.
  in.documents = all.total, in.bytes = all.bytes, in.blank = all.empty_lines, in.invalid_utf8 = all.invalid_utf8,
  in.long_lines = all.long_lines;
  if (!c.test.empty()) {
    in.train = std::move(all);
    in.test = ml::read_labeled_documents(c.test, nullptr);
    ml::check_binary_labels(in.test, c.test);
    in.test_bytes = in.test.bytes;
  } else {
    in.train = select(all, c, true);
    in.test = select(all, c, false);
    in.train.total = rt.sum(static_cast<std::int64_t>(in.train.texts.size()));
    in.test.total = rt.sum(static_cast<std::int64_t>(in.test.texts.size()));
  }
  return in;
}

/// --model: a saved model evaluated on the test documents and applied to --predict,
/// without training.
int run_saved_model(const sx::Runtime& rt, const Config& c) {
  const bool root = rt.rank() == 0;
  const auto t_start = Clock::now();
  ml::LogisticRegressionModel model = ml::LogisticRegressionModel::load(c.model);
  if (!model.features())
    throw JobError(fmt::format("{} holds no featurization; it was not saved by this job", c.model));
  const ml::TextFeatures& f = *model.features();
  if (root) {
    fmt::print("spartanxx-tfidf-lr: the saved model {} on {} ranks ({} features, {} hashing{}, {} tokenizer, threshold {})\n",
               c.model, rt.size(), f.hashing.num_features(), f.hashing.variant() == ml::HashVariant::ml ? "ml" : "mllib",
               f.hashing.binary() ? ", binary" : "", f.tokenizer.kind, model.threshold());
    std::fflush(stdout);
  }
  nlohmann::json report;
  report["ranks"] = rt.size();
  report["model"] = {{"file", c.model}, {"iterations", model.iterations()}, {"intercept", model.intercept()},
                     {"threshold", model.threshold()}};
  if (!c.test.empty() || !c.train.empty() || !c.positive.empty()) {
    Input in = read_input(rt, c);
    ml::Documents& docs = in.test;
    const ml::BinaryMetrics m = ml::binary_metrics(sx::from_rank_parts(docs.labels),
                                                   model.predict_probability_texts(docs.texts), model.threshold());
    if (root) print_metrics("test", m);
    report["test"] = metrics_json(m);
  }
  g_deferred = true;  // from here the ranks stop together (see on_signal)
  interruption_point(rt, "before any output was written");
  if (!c.predict.empty()) {
    const std::int64_t predicted = predict_file(c, model);
    if (root) fmt::print("  predict   {} documents of {} -> {}\n", predicted, c.predict, c.predictions);
    report["predict"] = {{"file", c.predict}, {"documents", predicted}, {"output", c.predictions}};
  }
  report["seconds"] = {{"total", seconds_since(t_start)}};
  if (!c.metrics_json.empty()) sx::io::write_text(c.metrics_json, root ? report.dump(2) + "\n" : std::string());
  if (root) fmt::print("  total     {:.3f} s\n", seconds_since(t_start));
  return 0;
}

int run(const sx::Runtime& rt, const Config& c) {
  const bool root = rt.rank() == 0;
  const auto t_start = Clock::now();
  nlohmann::json report;
  report["ranks"] = rt.size();
  const auto tokenize = c.tokenizer.terms();

  // 1. Read and tokenize.
  rt.barrier();
  auto t0 = Clock::now();
  Input in = read_input(rt, c);
  ml::Documents& train = in.train;
  ml::Documents& test = in.test;
  const std::string& source = in.source;
  const std::int64_t test_bytes = in.test_bytes;
  rt.barrier();
  const double t_read = seconds_since(t0);
  if (train.total == 0)
    throw JobError(fmt::format("the training set is empty ({} has no documents{})", source,
                                      c.test.empty() ? " in the training share" : ""));
  if (root) {
    fmt::print("spartanxx-tfidf-lr: TF-IDF + logistic regression ({}) on {} ranks\n", c.algorithm, rt.size());
    fmt::print("  input     {}: {} documents, {:.1f} MB of text; {} blank lines skipped, {} with invalid UTF-8 "
               "(repaired), {} over 1 MiB\n",
               source, in.documents, in.bytes / 1e6, in.blank, in.invalid_utf8, in.long_lines);
    fmt::print("  split     {} training, {} test documents{}\n", train.total, test.total,
               c.test.empty() ? fmt::format(" (held-out fraction {}, seed {})", c.test_fraction, c.split_seed)
                              : " (" + c.test + ")");
    std::fflush(stdout);
  }

  // 2. Features: term counts by hashing, IDF fitted on the training documents.
  rt.barrier();
  t0 = Clock::now();
  const ml::HashingTF htf(c.num_features, c.hash == "ml" ? ml::HashVariant::ml : ml::HashVariant::mllib, c.binary);
  const sx::Array tf_train = htf.transform_texts(train.texts, tokenize);
  const sx::Array tf_test = htf.transform_texts(test.texts, tokenize);
  tf_train.evaluate();
  tf_test.evaluate();
  rt.barrier();
  const double t_hash = seconds_since(t0);
  t0 = Clock::now();
  const ml::IDFModel idf = ml::IDF(c.min_doc_freq).fit(tf_train);
  const sx::Array X = idf.transform(tf_train);
  const sx::Array Xt = idf.transform(tf_test);
  X.evaluate();
  Xt.evaluate();
  const sx::Array y = sx::from_rank_parts(train.labels);
  const sx::Array yt = sx::from_rank_parts(test.labels);
  rt.barrier();
  const double t_idf = seconds_since(t0);
  const double featurize = t_read + t_hash + t_idf;
  const double mb = (in.bytes + test_bytes) / 1e6;
  if (root) {
    fmt::print("  features  {} ({} hashing{}), {} stored in training, {} in test; min doc freq {}\n", c.num_features,
               c.hash, c.binary ? ", binary" : "", sx::nnz(X), sx::nnz(Xt), c.min_doc_freq);
    fmt::print("  featurize {:.3f} s = read {:.3f} + tokenize/hash {:.3f} + IDF {:.3f}: {:.1f} MB/s\n", featurize,
               t_read, t_hash, t_idf, mb / featurize);
    std::fflush(stdout);
  }

  // 3. Train.
  rt.barrier();
  t0 = Clock::now();
  const bool sgd = c.algorithm == "sgd";
  Progress progress(root, sgd ? c.sgd.num_iterations : c.lbfgs.max_iter);
  g_deferred = true;  // from here the ranks stop together (see on_signal)
  interruption_point(rt, "before training");
  auto on_iteration = [&progress, &rt](int i, double loss) {
    progress(i, loss);
    interruption_point(rt, fmt::format("at iteration {}", i));
  };
  ml::CheckpointOptions ckpt;
  ckpt.path = c.checkpoint;
  ckpt.every = c.checkpoint_every;
  ckpt.resume = c.resume;
  ckpt.on_resume = [root](const sx::io::Restored& r) {
    if (!root) return;
    for (const std::string& why : r.rejected)
      if (!r.file.empty()) fmt::print(stderr, "spartanxx-tfidf-lr: passed over: {}\n", why);
    if (r.file.empty())
      fmt::print("  resume    no checkpoint yet: training from the start\n");
    else
      fmt::print("  resume    from {} at iteration {}\n", r.file, r.snapshot.step);
    std::fflush(stdout);
  };
  ml::LogisticRegressionModel model = [&] {
    if (sgd) {
      ml::SGDOptions o = c.sgd;
      o.on_iteration = on_iteration;
      o.checkpoint = ckpt;
      return ml::train_logistic_regression_sgd(X, y, o);
    }
    ml::LBFGSOptions o = c.lbfgs;
    o.on_iteration = on_iteration;
    o.checkpoint = ckpt;
    return ml::train_logistic_regression_lbfgs(X, y, o);
  }();
  model.set_features(ml::TextFeatures{c.tokenizer, htf, idf});
  model.set_threshold(c.threshold);
  rt.barrier();
  const double t_train = seconds_since(t0);
  progress.done();
  const double final_loss = model.loss_history().empty() ? std::nan("") : model.loss_history().back();
  if (root) {
    fmt::print("  train     {} iterations in {:.3f} s ({:.2f} ms each), final loss {:.6f}\n", model.iterations(),
               t_train, model.iterations() ? 1e3 * t_train / model.iterations() : 0.0, final_loss);
    std::fflush(stdout);
  }

  // 4. Evaluate.
  t0 = Clock::now();
  const ml::BinaryMetrics m_train = ml::binary_metrics(y, model.predict_probability(X), c.threshold);
  ml::BinaryMetrics m_test;
  if (test.total > 0) m_test = ml::binary_metrics(yt, model.predict_probability(Xt), c.threshold);
  const double t_eval = seconds_since(t0);
  if (root) {
    print_metrics("train", m_train);
    if (test.total > 0)
      print_metrics("test", m_test);
    else
      fmt::print("  test      no documents to evaluate on\n");
  }

  interruption_point(rt, "after training, before any output was written");
  // 5. Predict an unlabeled file.
  std::int64_t predicted = 0;
  if (!c.predict.empty()) {
    predicted = predict_file(c, model);
    if (root) fmt::print("  predict   {} documents of {} -> {}\n", predicted, c.predict, c.predictions);
  }

  report["input"] = {{"source", source},   {"documents", in.documents},       {"bytes", in.bytes},
                     {"blank_lines", in.blank}, {"invalid_utf8", in.invalid_utf8}, {"long_lines", in.long_lines}};
  report["split"] = {{"train", train.total}, {"test", test.total}, {"test_fraction", c.test.empty() ? c.test_fraction : 0.0},
                     {"seed", c.split_seed}};
  report["features"] = {{"num_features", c.num_features}, {"hash", c.hash}, {"binary", c.binary},
                        {"min_doc_freq", c.min_doc_freq}, {"train_nnz", sx::nnz(X)}, {"test_nnz", sx::nnz(Xt)}};
  report["model"] = {{"algorithm", c.algorithm},
                     {"iterations", model.iterations()},
                     {"final_loss", std::isfinite(final_loss) ? nlohmann::json(final_loss) : nlohmann::json(nullptr)},
                     {"intercept", model.intercept()},
                     {"threshold", c.threshold}};
  if (!c.save_model.empty()) {
    interruption_point(rt, c.predict.empty() ? "after training, before any output was written"
                                             : fmt::format("after writing {}", c.predictions));
    model.save(c.save_model);
    if (root) fmt::print("  model     saved to {}\n", c.save_model);
    report["model"]["saved"] = c.save_model;
  }
  report["train"] = metrics_json(m_train);
  if (test.total > 0) report["test"] = metrics_json(m_test);
  if (!c.predict.empty()) report["predict"] = {{"file", c.predict}, {"documents", predicted}, {"output", c.predictions}};
  report["seconds"] = {{"read", t_read}, {"tokenize_hash", t_hash},   {"idf", t_idf},
                       {"featurize", featurize},  {"train", t_train}, {"evaluate", t_eval},
                       {"total", seconds_since(t_start)}};
  report["featurize_mb_per_s"] = mb / featurize;
  if (!c.metrics_json.empty()) sx::io::write_text(c.metrics_json, root ? report.dump(2) + "\n" : std::string());
  if (root) {
    if (!c.metrics_json.empty()) fmt::print("  metrics   {}\n", c.metrics_json);
    fmt::print("  total     {:.3f} s\n", seconds_since(t_start));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are handled from the start (MPI's start-up included); the rank is mpirun's
  // until the runtime says.
  if (const char* r = std::getenv("OMPI_COMM_WORLD_RANK")) g_rank = std::atoi(r);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  spartanxx::Runtime rt(argc, argv);
  g_rank = rt.rank();
  Config c;
  CLI::App app{
      "spartanxx-tfidf-lr: a TF-IDF + logistic regression text classifier (Spark MLlib's HashingTF, IDF and "
      "LogisticRegressionWithSGD / L-BFGS) on spartanxx arrays; run under mpirun"};
  app.set_version_flag("--version", "spartanxx-tfidf-lr 0.1");

  auto* g_in = app.add_option_group("input");
  auto* o_train = g_in->add_option("--train", c.train, "training file: label<TAB>text per line, label 0 or 1 (plain or .gz)");
  auto* o_pos = g_in->add_option("--positive", c.positive, "training documents of label 1, one per line (with --negative)");
  auto* o_neg = g_in->add_option("--negative", c.negative, "training documents of label 0, one per line (with --positive)");
  o_pos->needs(o_neg);
  o_neg->needs(o_pos);
  o_train->excludes(o_pos)->excludes(o_neg);
  auto* o_test = g_in->add_option("--test", c.test, "test file (label<TAB>text); default: a held-out share of the training input");
  auto* o_frac = g_in->add_option("--test-fraction", c.test_fraction, "held-out share of the training input")
                     ->check(number_in(0.0, false, 1.0))
                     ->capture_default_str();
  o_test->excludes(o_frac);
  g_in->add_option("--split-seed", c.split_seed, "seed of the train/test split (the same at every rank count)")->capture_default_str();
  g_in->add_option("--predict", c.predict, "unlabeled documents to classify, one per line");
  g_in->add_flag("--predict-ids", c.predict_ids, "predict lines are id,text: the id is written instead of the line number");
  g_in->add_option("--predictions", c.predictions, "where --predict writes id<TAB>prediction<TAB>probability")->capture_default_str();
  g_in->add_option("--metrics-json", c.metrics_json, "write the metrics and timings as JSON to this file");

  auto* g_tok = app.add_option_group("tokenizer");
  g_tok->add_option("--tokenizer", c.tokenizer.kind, "standard (Spark Tokenizer: lower-case, split on whitespace), regex, or split")
      ->check(CLI::IsMember({"standard", "regex", "split"}))
      ->capture_default_str();
  g_tok->add_option("--pattern", c.tokenizer.pattern, "regex tokenizer: the pattern (ECMAScript)")->capture_default_str();
  g_tok->add_option("--gaps", c.tokenizer.gaps, "regex tokenizer: the pattern matches gaps (true) or terms (false)")->capture_default_str();
  g_tok->add_option("--min-token-length", c.tokenizer.min_token_length, "regex tokenizer: shortest term kept")->capture_default_str();
  g_tok->add_option("--lowercase", c.tokenizer.lowercase, "regex tokenizer: lower-case first")->capture_default_str();
  g_tok->add_option("--delimiter", c.tokenizer.delimiter, "split tokenizer: the delimiter")->capture_default_str();

  auto* g_feat = app.add_option_group("features");
  g_feat->add_option("--num-features", c.num_features, "hashed feature space size (Spark: an Int)")->check(number_in(1, false, 2147483647))->capture_default_str();
  g_feat->add_option("--hash", c.hash, "mllib (spark.mllib's legacy murmur3) or ml (spark.ml >= 3.0)")
      ->check(CLI::IsMember({"mllib", "ml"}))
      ->capture_default_str();
  g_feat->add_flag("--binary", c.binary, "term presence (1) instead of counts");
  g_feat->add_option("--min-doc-freq", c.min_doc_freq, "IDF: terms in fewer training documents get weight 0")
      ->check(number_in(0, false))
      ->capture_default_str();

  auto* g_model = app.add_option_group("model");
  g_model->add_option("--algorithm", c.algorithm, "sgd (LogisticRegressionWithSGD) or lbfgs (LogisticRegression)")
      ->check(CLI::IsMember({"sgd", "lbfgs"}))
      ->capture_default_str();
  g_model->add_option("--iterations", c.sgd.num_iterations, "sgd: numIterations")->check(number_in(0, false))->capture_default_str();
  g_model->add_option("--step-size", c.sgd.step_size, "sgd: stepSize")->check(number_in(0, true))->capture_default_str();
  g_model->add_option("--mini-batch-fraction", c.sgd.mini_batch_fraction, "sgd: miniBatchFraction")
      ->check(number_in(0.0, true, 1.0))
      ->capture_default_str();
  g_model->add_option("--convergence-tol", c.sgd.convergence_tol, "sgd: convergenceTol")->check(number_in(0, false))->capture_default_str();
  g_model->add_option("--reg-param", c.sgd.reg_param, "L2 regularization (sgd and lbfgs)")->check(number_in(0, false))->capture_default_str();
  g_model->add_flag("--allow-single-class", c.sgd.allow_single_class,
                    "train even when every training label is the same (Spark does; by default an error)");
  g_model->add_flag("--intercept,!--no-intercept", c.sgd.intercept, "sgd: fit an intercept (lbfgs always does unless --no-intercept)");
  g_model->add_option("--seed", c.sgd.seed, "sgd: mini-batch sampling seed")->capture_default_str();
  g_model->add_option("--max-iter", c.lbfgs.max_iter, "lbfgs: maxIter")->check(number_in(0, false))->capture_default_str();
  g_model->add_option("--tol", c.lbfgs.tol, "lbfgs: convergence tolerance")->check(number_in(0, false))->capture_default_str();
  g_model->add_option("--standardization", c.lbfgs.standardization, "lbfgs: standardize features internally")->capture_default_str();
  g_model->add_option("--threshold", c.threshold, "predict 1 when the probability exceeds this")
      ->check(number_in(0.0, false, 1.0))
      ->capture_default_str();

  auto* g_persist = app.add_option_group("persistence");
  auto* o_model = g_persist->add_option("--model", c.model, "a model saved with --save-model: evaluate it on --test (or the held-out share of --train) and apply it to --predict, without training");
  auto* o_save = g_persist->add_option("--save-model", c.save_model, "save the trained model and its featurization (HDF5) to this file");
  auto* o_ckpt = g_persist->add_option("--checkpoint", c.checkpoint, "checkpoint file of the training state (HDF5; the previous one is kept as FILE.prev)");
  auto* o_every = g_persist->add_option("--checkpoint-every", c.checkpoint_every, "write a checkpoint every K iterations (and at the end)")
      ->check(number_in(1, false));
  auto* o_resume = g_persist->add_flag("--resume", c.resume, "continue training from --checkpoint (from the start when there is none yet)");
  o_every->needs(o_ckpt);
  o_resume->needs(o_ckpt);
  o_model->excludes(o_save)->excludes(o_ckpt);
  std::string max_memory;
  app.add_option("--max-memory", max_memory,
                 "memory one rank may use, e.g. 8G (default: the node's available memory, or its cgroup limit, "
                 "shared by its ranks)")
      ->envname("SPARTANXX_MAX_MEMORY");

  try {
    app.parse(argc, argv);
    if (c.model.empty() && c.train.empty() && c.positive.empty())
      throw CLI::RequiredError("--train or --positive/--negative (or --model)");
    if (!c.model.empty() && c.train.empty() && c.positive.empty() && c.test.empty() && c.predict.empty())
      throw CLI::RequiredError("with --model: --test, --train or --predict");
    if (!max_memory.empty() && (c.max_memory = sx::parse_bytes(max_memory)) <= 0)
      throw CLI::ValidationError("--max-memory", max_memory + " is not a size (a number of bytes, or with K, M, G, T)");
    if (c.max_memory > 0) sx::set_memory_limit(c.max_memory, "--max-memory / SPARTANXX_MAX_MEMORY");
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same arguments, so every rank ends here; rank 0 speaks.
    if (rt.rank() == 0) return app.exit(e);
    return e.get_exit_code();
  }
  c.lbfgs.reg_param = c.sgd.reg_param;
  c.lbfgs.allow_single_class = c.sgd.allow_single_class;
  if (app.count("--no-intercept") > 0 || app.count("--intercept") > 0) c.lbfgs.fit_intercept = c.sgd.intercept;

  try {
    preflight(rt, c);
    return c.model.empty() ? run(rt, c) : run_saved_model(rt, c);
  } catch (const Interrupted& i) {
    // Where training stands on disk: the checkpoint's iteration (read back, verified).
    std::string saved;
    if (!c.checkpoint.empty() && ::access(c.checkpoint.c_str(), F_OK) != 0) {
      saved = fmt::format("; no checkpoint written yet{}", c.checkpoint_every > 0 ? "" : " (--checkpoint-every K writes one every K iterations)");
    } else if (!c.checkpoint.empty()) {
      try {
        saved = fmt::format("; checkpoint {} is from iteration {}", c.checkpoint, sx::io::read_checkpoint(c.checkpoint).step);
      } catch (const std::exception&) {
        saved = fmt::format("; {} holds no complete checkpoint", c.checkpoint);
      }
    }
    if (rt.rank() == 0)
      fmt::print(stderr, "spartanxx-tfidf-lr: interrupted ({}) {}{}\n", i.sig == SIGINT ? "SIGINT" : "SIGTERM", i.where, saved);
    return 128 + i.sig;
  } catch (const JobError& e) {
    if (rt.rank() == 0) fmt::print(stderr, "spartanxx-tfidf-lr: {}\n", one_sentence(e.what(), 0).second);
    return 1;
  } catch (const std::exception& e) {
    // Errors are agreed on across ranks: every rank lands here with the same message,
    // prefixed by the rank that saw the problem; rank 0 says it once.
    // Errors not agreed on are raised alike on every rank (spartanxx checks them with
    // values every rank has): rank 0 says those once too, without a rank.
    auto [origin, message] = one_sentence(e.what(), rt.rank());
    for (std::size_t at; (at = message.find("set allow_single_class")) != std::string::npos;)
      message.replace(at, 22, "pass --allow-single-class");
    if (rt.rank() == 0) {
      if (origin) fmt::print(stderr, "spartanxx-tfidf-lr: [rank {}] {}\n", *origin, message);
      else fmt::print(stderr, "spartanxx-tfidf-lr: {}\n", message);
    }
    return 1;
  }
}

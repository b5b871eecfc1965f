// Checkpoints and saved models: snapshots written and read back at every rank count (every
// dtype, awkward shapes), the previous checkpoint kept and used when the newest is
// damaged (truncated, a flipped byte that the seal's CRC-32 sees, or one in an array's
// data behind a seal made again, which only the array's checksum sees),
// the errors; SGD and L-BFGS runs stopped and resumed equal, bit for bit, the runs that
// were not; a saved model, loaded, predicts raw text exactly as the one that was saved.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <mpi.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "mpi/sparse_support.hpp"
#include "mpi/temp_dir.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace ml = spartanxx::ml;
namespace fs = std::filesystem;

namespace {

using spartanxx_test::expect_error;
using spartanxx_test::TempDirTest;
using spartanxx_test::world_rank;
using sx::DType;
using sx::Shape;

class Checkpoint : public TempDirTest {};

/// Element i of the test arrays: fractions, large and negative numbers.
double value(std::int64_t i) { return (i % 7 - 3) * 0.375 + (i % 2 ? 1e9 : 0); }

sx::Array formula(const Shape& shape, DType t) {
  std::int64_t n = 1;
  for (auto e : shape) n *= e;
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = t == DType::boolean ? i % 3 == 0 : value(i);
  return sx::from_buffer(shape, DType::f64, v.data()).astype(t);
}

sx::io::Snapshot sample(std::int64_t step) {
  sx::io::Snapshot s;
  s.kind = "test";
  s.step = step;
  s.arrays["matrix"] = formula({7, 5}, DType::f64) + static_cast<double>(step);
  s.arrays["single"] = formula({3, 4}, DType::f32);
  s.arrays["counts"] = formula({11}, DType::i64);
  s.arrays["small"] = formula({2, 3, 2}, DType::i32);
  s.arrays["mask"] = formula({5}, DType::boolean);
  s.arrays["scalar"] = formula({}, DType::f64);
  s.arrays["empty"] = formula({0, 4}, DType::f64);
  s.arrays["column_sums"] = sx::sum(formula({9, 6}, DType::f64), 0);  // a reduction's result
  s.scalars = {{"rate", 0.125}, {"tiny", 5e-324}, {"negative", -3.5}};
  s.series = {{"loss", {0.69, 0.5, 0.25 + static_cast<double>(step)}}, {"none", {}}};
  s.texts = {{"note", "step " + std::to_string(step)}, {"empty", ""}};
  return s;
}

void expect_same(const sx::io::Snapshot& got, const sx::io::Snapshot& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.step, want.step);
  ASSERT_EQ(got.arrays.size(), want.arrays.size());
  for (const auto& [name, a] : want.arrays) {
    SCOPED_TRACE(name);
    const sx::Array& b = got.arrays.at(name);
    EXPECT_EQ(b.dtype(), a.dtype());
    EXPECT_EQ(b.shape(), a.shape());
    EXPECT_EQ(sx::to_vector<double>(b.astype(DType::f64)), sx::to_vector<double>(a.astype(DType::f64)));
  }
  EXPECT_EQ(got.scalars, want.scalars);
  EXPECT_EQ(got.series, want.series);
  EXPECT_EQ(got.texts, want.texts);
}

/// Rank 0 flips one byte of the file at `offset`.
void flip_byte(const std::string& file, std::int64_t offset) {
  if (world_rank() == 0) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset);
    char c = 0;
    f.get(c);
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x20));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/// Where a dataset's bytes start in the file (serial HDF5, rank 0's answer for all).
std::int64_t data_offset(const std::string& file, const char* dataset) {
  std::int64_t at = -1;
  if (world_rank() == 0) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
    at = static_cast<std::int64_t>(H5Dget_offset(d));
    H5Dclose(d);
    H5Fclose(f);
  }
  MPI_Bcast(&at, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return at;
}

/// Rank 0 writes the seal again for the file's present bytes (what a tool that edits a
/// checkpoint and knows the seal would do): the layout is the one the format describes,
/// "spartanxx-seal 1\nbytes N\ncrc32 XXXXXXXX\n" in the first 512 bytes, computed here
/// with zlib over the whole of the rest at once. `bytes` and `crc` replace the fields'
/// right values when given (a seal written wrongly).
void reseal(const std::string& file, const std::string& bytes = "", const std::string& crc = "") {
  if (world_rank() == 0) {
    std::ifstream in(file, std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    ASSERT_GT(all.size(), 512u);
    ASSERT_EQ(all.rfind("spartanxx-seal 1\n", 0), 0u);
    const uLong sum = crc32(0L, reinterpret_cast<const Bytef*>(all.data()) + 512, static_cast<uInt>(all.size() - 512));
    std::string seal = fmt::format("spartanxx-seal 1\nbytes {}\ncrc32 {}\n", bytes.empty() ? std::to_string(all.size() - 512) : bytes,
                                   crc.empty() ? fmt::format("{:08x}", sum) : crc);
    seal.resize(512, '\0');
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.write(seal.data(), static_cast<std::streamsize>(seal.size()));
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST_F(Checkpoint, RoundTripsAndKeepsThePrevious) {
  const std::string file = path("run.ckpt");
  const sx::io::Snapshot one = sample(1), two = sample(2);
  sx::io::checkpoint(file, one);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(listing(), std::vector<std::string>{"run.ckpt"});
  sx::io::checkpoint(file, two);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(listing(), (std::vector<std::string>{"run.ckpt", "run.ckpt.prev"}));
  const sx::io::Restored r = sx::io::restore(file);
  EXPECT_EQ(r.file, file);
  EXPECT_TRUE(r.rejected.empty());
  expect_same(r.snapshot, two);
  expect_same(sx::io::read_checkpoint(file + ".prev"), one);
  // The file is HDF5 as any tool reads it: the arrays are plain datasets.
  EXPECT_EQ(sx::to_vector<double>(sx::io::read_hdf5(file, "/arrays/matrix")), sx::to_vector<double>(two.arrays.at("matrix")));
  // A killed writer's temporary file is removed by the next checkpoint.
  write_file("run.ckpt.tmp-999", "half a file");
  sx::io::checkpoint(file, one);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(listing(), (std::vector<std::string>{"run.ckpt", "run.ckpt.prev"}));
  expect_same(sx::io::restore(file).snapshot, one);
  // Without keeping the previous one (a model file).
  sx::io::checkpoint(path("model.h5"), two, /*keep_previous=*/false);
  sx::io::checkpoint(path("model.h5"), one, /*keep_previous=*/false);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(fs::exists(path("model.h5.prev")));
}

TEST_F(Checkpoint, DamagedNewestFallsBackToThePrevious) {
  const std::string file = path("run.ckpt");
  sx::io::checkpoint(file, sample(1));
  sx::io::checkpoint(file, sample(2));
  // One flipped bit in an array's elements: the seal's CRC-32 sees it before libhdf5
  // reads a byte.
  flip_byte(file, data_offset(file, "/arrays/counts") + 9);
  sx::io::Restored r = sx::io::restore(file);
  EXPECT_EQ(r.file, file + ".prev");
  EXPECT_EQ(r.snapshot.step, 1);
  ASSERT_EQ(r.rejected.size(), 1u);
  spartanxx_test::expect_fragments(r.rejected[0], {"run.ckpt", "checksum (CRC-32)", "damaged file"});
  // Sealed again over the flipped byte: HDF5 reads the array without complaint, the
  // array's own checksum does not.
  reseal(file);
  r = sx::io::restore(file);
  EXPECT_EQ(r.file, file + ".prev");
  ASSERT_EQ(r.rejected.size(), 1u);
  spartanxx_test::expect_fragments(r.rejected[0], {"run.ckpt", "/arrays/counts", "checksum"});
  // A flipped byte in the seal itself, and bytes added at the end.
  flip_byte(file, 20);
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "seal", "damaged"});
  flip_byte(file, 20);
  // Seals whose fields are not what the format writes: each is a damaged seal, and none
  // is read as another length. (The right values, then each field made wrong.)
  const std::string size = std::to_string(fs::file_size(file) - 512);
  for (const auto& [b, c] : std::vector<std::pair<std::string, std::string>>{
           {"+" + size, ""}, {"-" + size, ""}, {size + " ", ""}, {" " + size, ""}, {"0x" + size, ""},
           {"99999999999999999999999", ""}, {"9223372036854775807", ""}, {"", "0000000g"}, {"", "1234567"},
           {"", "123456789"}, {"", "-1234567"}, {"", "1234567\n"}}) {
    reseal(file, b, c);
    SCOPED_TRACE("bytes " + b + ", crc32 " + c);
    expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "seal", "damaged"});
  }
  // Sealed right again, the file reads as far as the flipped array byte.
  reseal(file);
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "/arrays/counts", "checksum"});
  if (world_rank() == 0) std::ofstream(file, std::ios::app | std::ios::binary) << "more";
  MPI_Barrier(MPI_COMM_WORLD);
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "bytes were added"});
  // Truncated: the same.
  sx::io::checkpoint(file, sample(3));  // the damaged one becomes .prev, a good one is newest
  EXPECT_EQ(sx::io::restore(file).snapshot.step, 3);
  if (world_rank() == 0) fs::resize_file(file, fs::file_size(file) / 2);
  MPI_Barrier(MPI_COMM_WORLD);
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "truncated"});
  // Now neither is usable: an error naming both, on every rank.
  expect_error<sx::io_error>([&] { sx::io::restore(file); },
                             {"no usable checkpoint", "run.ckpt", "run.ckpt.prev", "truncated", "bytes were added"});
  // Only a previous one (a crash between the two renames of another scheme): it is used.
  if (world_rank() == 0) {
    fs::remove(file);
    fs::remove(file + ".prev");
  }
  MPI_Barrier(MPI_COMM_WORLD);
  sx::io::checkpoint(path("other"), sample(4));
  if (world_rank() == 0) fs::rename(path("other"), file + ".prev");
  MPI_Barrier(MPI_COMM_WORLD);
  r = sx::io::restore(file);
  EXPECT_EQ(r.snapshot.step, 4);
  spartanxx_test::expect_fragments(r.rejected.at(0), {"run.ckpt", "no such file"});
}

TEST_F(Checkpoint, Errors) {
  const std::string file = path("run.ckpt");
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(path("absent")); }, {"absent"});
  expect_error<sx::io_error>([&] { sx::io::restore(path("absent")); }, {"absent", "absent.prev", "no such file"});
  // Another format version, and a file that is HDF5 but no checkpoint.
  sx::io::checkpoint(file, sample(1));
  sx::io::write_hdf5_attributes(file, "/", {{"format-version", std::int64_t{3}}});
  reseal(file);
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(file); }, {"run.ckpt", "format version 3", "reads version 2"});
  sx::io::write_hdf5(path("plain.h5"), "x", sx::ones({3}));
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(path("plain.h5")); },
                             {"plain.h5", "not a spartanxx checkpoint", "HDF5 file without a spartanxx seal"});
  write_file("text", "not HDF5 at all");
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(path("text")); }, {"text", "not a spartanxx checkpoint"});
  write_file("empty", "");
  expect_error<sx::io_error>([&] { sx::io::read_checkpoint(path("empty")); }, {"empty", "not a spartanxx checkpoint"});
  // Bad snapshots: nothing written.
  sx::io::Snapshot bad = sample(1);
  bad.arrays["a/b"] = sx::ones({2});
  expect_error<sx::value_error>([&] { sx::io::checkpoint(path("bad"), bad); }, {"bad", "a/b"});
  bad = sample(1);
  bad.arrays["sparse"] = spartanxx_test::from_shares(4, 4, spartanxx_test::random_triplets(4, 4, 0.5, 1), DType::f64);
  expect_error<sx::value_error>([&] { sx::io::checkpoint(path("bad"), bad); }, {"bad", "sparse"});
  expect_error<sx::io_error>([&] { sx::io::checkpoint(path("no/dir/ckpt"), sample(1)); }, {"ckpt"});
  MPI_Barrier(MPI_COMM_WORLD);
  for (const std::string& f : listing()) EXPECT_TRUE(f.rfind("bad", 0) != 0) << f << " left behind";
}

// ---- training runs stopped and resumed ----

struct Data {
  sx::Array X, y;
};

Data data(std::int64_t n, std::int64_t d) {
  const auto trip = spartanxx_test::random_triplets(n, d, 0.3, 7);
  std::vector<double> labels(static_cast<std::size_t>(n));
  for (const auto& t : trip)
    if (t.col() % 3 == 0) labels[static_cast<std::size_t>(t.row())] += t.value();
  for (double& l : labels) l = l > 0.4 ? 1 : 0;
  return {spartanxx_test::from_shares(n, d, trip, DType::f64), sx::from_buffer({n}, DType::f64, labels.data())};
}

void expect_identical(const ml::LogisticRegressionModel& got, const ml::LogisticRegressionModel& want) {
  EXPECT_EQ(got.iterations(), want.iterations());
  EXPECT_EQ(got.loss_history(), want.loss_history());  // bit for bit
  EXPECT_EQ(sx::to_vector<double>(got.weights()), sx::to_vector<double>(want.weights()));
  EXPECT_EQ(got.intercept(), want.intercept());
}

TEST_F(Checkpoint, SgdResumesBitForBit) {
  const Data t = data(45, 12);
  for (double fraction : {1.0, 0.5}) {
    for (bool intercept : {false, true}) {
      SCOPED_TRACE(fmt::format("fraction {} intercept {}", fraction, intercept));
      ml::SGDOptions o;
      o.num_iterations = 23;
      o.mini_batch_fraction = fraction;
      o.intercept = intercept;
      o.convergence_tol = 0;
      const auto whole = ml::train_logistic_regression_sgd(t.X, t.y, o);
      // The same run, stopped after 10 iterations with checkpoints every 4 (the last at
      // 10, where it ended), then resumed.
      ml::SGDOptions part = o;
      part.num_iterations = 10;
      part.checkpoint.path = path(fmt::format("sgd-{}-{}.ckpt", fraction, intercept));
      part.checkpoint.every = 4;
      ml::train_logistic_regression_sgd(t.X, t.y, part);
      ml::SGDOptions rest = o;
      rest.checkpoint = part.checkpoint;
      rest.checkpoint.resume = true;
      sx::io::Restored from;
      rest.checkpoint.on_resume = [&](const sx::io::Restored& r) { from = r; };
      const auto resumed = ml::train_logistic_regression_sgd(t.X, t.y, rest);
      EXPECT_EQ(from.snapshot.step, 10);
      expect_identical(resumed, whole);
      // From a checkpoint at 8, the last iteration of a shorter run.
      ml::SGDOptions eight = part;
      eight.num_iterations = 8;
      eight.checkpoint.path = path("eight.ckpt");
      ml::train_logistic_regression_sgd(t.X, t.y, eight);
      ml::SGDOptions from_eight = o;
      from_eight.checkpoint = eight.checkpoint;
      from_eight.checkpoint.resume = true;
      expect_identical(ml::train_logistic_regression_sgd(t.X, t.y, from_eight), whole);
    }
  }
  // No checkpoint yet: a resumed run starts from the beginning.
  ml::SGDOptions o;
  o.num_iterations = 5;
  const auto fresh = ml::train_logistic_regression_sgd(t.X, t.y, o);
  o.checkpoint.path = path("none.ckpt");
  o.checkpoint.resume = true;
  bool told = false;
  o.checkpoint.on_resume = [&](const sx::io::Restored& r) { told = r.file.empty(); };
  expect_identical(ml::train_logistic_regression_sgd(t.X, t.y, o), fresh);
  EXPECT_TRUE(told);
}

TEST_F(Checkpoint, LbfgsResumesBitForBit) {
  const Data t = data(60, 10);
  ml::LBFGSOptions o;
  o.max_iter = 18;
  o.tol = 0;
  o.reg_param = 0.01;
  o.memory = 4;
  const auto whole = ml::train_logistic_regression_lbfgs(t.X, t.y, o);
  ASSERT_EQ(whole.iterations(), 18);
  ml::LBFGSOptions part = o;
  part.max_iter = 9;
  part.checkpoint.path = path("lbfgs.ckpt");
  part.checkpoint.every = 3;
  ml::train_logistic_regression_lbfgs(t.X, t.y, part);
  ml::LBFGSOptions rest = o;
  rest.checkpoint = part.checkpoint;
  rest.checkpoint.resume = true;
  rest.checkpoint.every = 5;
  expect_identical(ml::train_logistic_regression_lbfgs(t.X, t.y, rest), whole);
  // A finished run resumed gives the same model again.
  expect_identical(ml::train_logistic_regression_lbfgs(t.X, t.y, rest), whole);
}

TEST_F(Checkpoint, ResumingAnotherRunIsAnError) {
  const Data t = data(30, 8);
  ml::SGDOptions o;
  o.num_iterations = 4;
  o.checkpoint.path = path("a.ckpt");
  o.checkpoint.every = 2;
  ml::train_logistic_regression_sgd(t.X, t.y, o);
  ml::SGDOptions other = o;
  other.checkpoint.resume = true;
  other.step_size = 0.5;
  expect_error<sx::value_error>([&] { ml::train_logistic_regression_sgd(t.X, t.y, other); },
                                {"a.ckpt", "other options", "stepSize=1", "stepSize=0.5"});
  const Data u = data(31, 8);
  other.step_size = o.step_size;
  expect_error<sx::value_error>([&] { ml::train_logistic_regression_sgd(u.X, u.y, other); }, {"a.ckpt", "30 x 8", "31 x 8"});
  ml::LBFGSOptions l;
  l.checkpoint.path = o.checkpoint.path;
  l.checkpoint.resume = true;
  expect_error<sx::value_error>([&] { ml::train_logistic_regression_lbfgs(t.X, t.y, l); }, {"a.ckpt", "\"sgd\"", "\"lbfgs\""});
  ml::SGDOptions no_path;
  no_path.checkpoint.every = 3;
  expect_error<sx::value_error>([&] { ml::train_logistic_regression_sgd(t.X, t.y, no_path); }, {"checkpoint", "path"});
}

// ---- saved models ----

TEST_F(Checkpoint, SavedModelPredictsRawTextTheSame) {
  // Documents each rank holds: a few words, label by whether "spam" or "offer" appears.
  std::vector<std::string> texts;
  std::vector<double> labels;
  const char* words[] = {"spam", "ham", "offer", "meeting", "free", "Lunch", "ÉTÉ", "now"};
  for (int i = world_rank(); i < 120; i += spartanxx_test::world_size()) {
    std::string t;
    for (int k = 0; k < 2 + i % 4; ++k) t += std::string(words[(i * 3 + k * 5) % 8]) + (k % 2 ? "\t" : " ");
    labels.push_back(t.find("spam") != std::string::npos || t.find("offer") != std::string::npos ? 1 : 0);  // 90 of 120
    texts.push_back(t);
  }
  for (const char* kind : {"standard", "regex", "split"}) {
    SCOPED_TRACE(kind);
    ml::TokenizerSettings tok;
    tok.kind = kind;
    tok.pattern = "[a-zé]+";
    tok.gaps = false;
    tok.min_token_length = 2;
    tok.delimiter = ' ';
    ml::TextFeatures f{tok, ml::HashingTF(1 << 10, ml::HashVariant::ml, /*binary=*/true), std::nullopt};
    const sx::Array tf = f.transform(texts);
    f.idf = ml::IDF(1).fit(tf);
    ml::LBFGSOptions o;
    o.max_iter = 15;
    o.reg_param = 0.05;
    ml::LogisticRegressionModel m = ml::train_logistic_regression_lbfgs(f.idf->transform(tf), sx::from_rank_parts(labels), o);
    m.set_threshold(0.3);
    m.set_features(f);
    const std::string file = path(fmt::format("model-{}.h5", kind));
    m.save(file);
    const ml::LogisticRegressionModel back = ml::LogisticRegressionModel::load(file);
    ASSERT_NE(back.features(), nullptr);
    EXPECT_EQ(back.features()->tokenizer.kind, kind);
    EXPECT_EQ(back.features()->hashing.num_features(), 1 << 10);
    EXPECT_EQ(back.threshold(), 0.3);
    expect_identical(back, m);
    std::vector<std::string> unseen = texts;
    for (auto& u : unseen) u += " offer";
    EXPECT_EQ(sx::to_vector<double>(back.predict_probability_texts(unseen)),
              sx::to_vector<double>(m.predict_probability_texts(unseen)));
  }
  // Errors: not a model, another model version.
  sx::io::checkpoint(path("ckpt"), sample(1));
  expect_error<sx::io_error>([&] { ml::LogisticRegressionModel::load(path("ckpt")); }, {"ckpt", "not a logistic regression model"});
  sx::io::write_hdf5_attributes(path("model-standard.h5"), "/scalars", {{"model-version", 9.0}});
  expect_error<sx::io_error>([&] { ml::LogisticRegressionModel::load(path("model-standard.h5")); }, {"model-standard.h5"});
}

}  // namespace

// spartanxx-demo: nearest-centroid classification of Fashion-MNIST, as an mpirun job.
//
//     mpirun -np 2 build/bin/spartanxx-demo [--data-dir DIR]
//
// Every rank decompresses the gzip'd idx files itself and fills only the rows it owns
// (spartanxx::from_rows); everything after loading is spartanxx array expressions:
// per-pixel mean and standard deviation, standardization, class centroids through a
// one-hot matrix (C = Yᵀ X / counts), and scores = X_test Cᵀ − ½‖c‖², whose argmax is
// the nearest centroid.
#include <fmt/format.h>
#include <zlib.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include <spartanxx/spartanxx.hpp>

namespace {

namespace sx = spartanxx;

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
constexpr int kClasses = 10;

// ---- idx files (gzip'd) ----

/// A gzip file read in order through zlib's inflate, verified as it goes: a member must
/// end with its trailer (zlib checks its CRC-32 and length), members may follow one
/// another, and a stream that stops early, corrupt data and bytes after the last member
/// that are not gzip are io_errors naming the file and the byte offset. (gzread would
/// hand back a truncated stream's bytes without an error and ignore trailing garbage.)
class GzReader {
 public:
  explicit GzReader(std::string path) : path_(std::move(path)), file_(std::fopen(path_.c_str(), "rb")) {
    if (file_ == nullptr)
      throw sx::io_error(fmt::format("fashion-mnist: cannot open {}: {}", path_, std::strerror(errno)));
    if (inflateInit2(&z_, 15 + 16) != Z_OK) {
      std::fclose(file_);
      throw sx::io_error(fmt::format("fashion-mnist: {}: cannot start zlib", path_));
    }
  }
  ~GzReader() {
    inflateEnd(&z_);
    std::fclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads exactly n bytes of `what`, or throws (truncated or corrupt file).
  void read(void* out, std::size_t n, const char* what) {
    const std::size_t got = read_some(out, n, what);
    if (got < n)
      throw sx::io_error(fmt::format("fashion-mnist: {}: truncated: expected {} bytes of {}, the data end after {}",
                                     path_, n, what, got));
  }

  /// Reads and drops n bytes (gzip streams are only readable in order).
  void skip(std::size_t n, const char* what) {
    std::vector<unsigned char> scratch(std::min<std::size_t>(n, 1u << 20));
    while (n > 0) {
      const std::size_t k = std::min(n, scratch.size());
      read(scratch.data(), k, what);
      n -= k;
    }
  }

  std::uint32_t read_be32(const char* what) {
    unsigned char b[4];
    read(b, 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  /// Reads on to the end of the file: the stream must end after `what` (every trailer
  /// checked); more data than the header declared is an error.
  void finish(const char* what) {
    unsigned char extra = 0;
    if (read_some(&extra, 1, what) != 0)
      throw sx::io_error(fmt::format("fashion-mnist: {}: more data after the {} its header declares", path_, what));
  }

 private:
  /// Up to n decompressed bytes; fewer only where the last member ended with its trailer
  /// at the end of the file.
  std::size_t read_some(void* out, std::size_t n, const char* what) {
    auto* p = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
      if (ended_ && !next_member()) break;
      if (z_.avail_in == 0 && !fill())
        throw sx::io_error(fmt::format("fashion-mnist: {}: truncated: the file ends at byte {} inside a gzip stream "
                                       "(while reading {})",
                                       path_, offset_, what));
      const auto want = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
      z_.next_out = p + done;
      z_.avail_out = want;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      done += want - z_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw sx::io_error(fmt::format("fashion-mnist: {}: corrupt gzip data near byte {} (while reading {}): {}", path_,
                                       offset_ - z_.avail_in, what, z_.msg != nullptr ? z_.msg : "zlib error"));
      }
    }
    return done;
  }

  /// After a member's trailer: true where another gzip member follows, false at the end
  /// of the file; anything else is an error.
  bool next_member() {
    if (z_.avail_in == 0 && !fill()) return false;
    if (z_.next_in[0] != 0x1f)
      throw sx::io_error(fmt::format("fashion-mnist: {}: bytes after the end of the gzip stream, at byte {}", path_,
                                     offset_ - z_.avail_in));
    inflateReset(&z_);
    ended_ = false;
    return true;
  }

  bool fill() {
    const std::size_t got = std::fread(in_.data(), 1, in_.size(), file_);
    if (got == 0 && std::ferror(file_))
      throw sx::io_error(fmt::format("fashion-mnist: cannot read {}: {}", path_, std::strerror(errno)));
    z_.next_in = in_.data();
    z_.avail_in = static_cast<uInt>(got);
    offset_ += static_cast<std::int64_t>(got);
    return got > 0;
  }

  std::string path_;
  std::FILE* file_;
  z_stream z_{};
  std::vector<unsigned char> in_ = std::vector<unsigned char>(std::size_t{1} << 16);
  std::int64_t offset_ = 0;  // bytes of the file read so far
  bool ended_ = false;       // the current member's trailer was read
};

/// What the header of an idx file says.
struct IdxHeader {
  std::string path;
  std::vector<std::int64_t> dims;  // images: n, rows, cols; labels: n
  std::int64_t header_bytes = 0;   // where the data start in the uncompressed stream
  std::int64_t n() const { return dims[0]; }
  std::int64_t row_size() const {
    std::int64_t s = 1;
    for (std::size_t i = 1; i < dims.size(); ++i) s *= dims[i];
    return s;
  }
};

/// Opens `path` and checks its magic number and dimensions.
IdxHeader read_header(GzReader& in, const std::string& path, std::uint32_t magic) {
  const std::uint32_t got = in.read_be32("the magic number");
  if (got != magic) {
    throw sx::io_error(fmt::format("fashion-mnist: {}: bad magic number 0x{:08x}, expected 0x{:08x} ({})",
                                   path, got, magic, magic == kImagesMagic ? "idx3 images" : "idx1 labels"));
  }
  IdxHeader h;
  h.path = path;
  const int ndim = static_cast<int>(magic & 0xff);
  for (int i = 0; i < ndim; ++i) {
    const std::uint32_t d = in.read_be32("the dimensions");
    if (d == 0 || d > (1u << 28)) {
      throw sx::io_error(fmt::format("fashion-mnist: {}: implausible dimension {} = {}", path, i, d));
    }
    h.dims.push_back(d);
  }
  h.header_bytes = 4 + 4 * ndim;
  return h;
}

IdxHeader check_images(const std::string& path) {
  GzReader in(path);
  return read_header(in, path, kImagesMagic);
}

/// All labels of a labels file (small: every rank keeps them whole).
std::vector<std::uint8_t> read_labels(const std::string& path) {
  GzReader in(path);
  const IdxHeader h = read_header(in, path, kLabelsMagic);
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(h.n()));
  in.read(labels.data(), labels.size(), "labels");
  in.finish("labels");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kClasses) {
      throw sx::io_error(fmt::format("fashion-mnist: {}: label {} at index {} is not a class in [0, {})",
                                     path, int{labels[i]}, i, kClasses));
    }
  }
  return labels;
}

/// The images as an (n, rows*cols) float64 array in [0, 1]. Each rank decompresses
/// the file up to its own rows and converts only those, and the rank with the last rows
/// reads on to the end (the trailer); an error in here (truncated or corrupt data) is
/// agreed on by spartanxx, so every rank throws it.
sx::Array load_images(const IdxHeader& h) {
  const std::int64_t d = h.row_size();
  return sx::from_rows({h.n(), d}, [h, d](std::int64_t first, std::int64_t last, double* out) {
    GzReader in(h.path);
    in.skip(static_cast<std::size_t>(h.header_bytes + first * d), "pixels");
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>((last - first) * d));
    in.read(bytes.data(), bytes.size(), "pixels");
    if (last == h.n()) in.finish("images");  // the rank with the last rows checks the end
    std::transform(bytes.begin(), bytes.end(), out, [](std::uint8_t p) { return p / 255.0; });
  });
}

/// The (n, 10) one-hot matrix of the labels, each rank filling its own rows.
sx::Array one_hot(std::shared_ptr<const std::vector<std::uint8_t>> labels) {
  const auto n = static_cast<std::int64_t>(labels->size());
  return sx::from_rows({n, kClasses}, [labels](std::int64_t first, std::int64_t last, double* out) {
    std::fill(out, out + (last - first) * kClasses, 0.0);
    for (std::int64_t i = first; i < last; ++i) out[(i - first) * kClasses + (*labels)[i]] = 1.0;
  });
}

/// Makes an error that only some ranks saw (say, a file missing on one node) into an
/// error on every rank before anyone enters a collective with a shape that depends on
/// it: every rank fills one row of a (ranks, 1) array, and the rank that failed throws
/// its error from inside the fill, where spartanxx agrees on errors across ranks. Where
/// all ranks failed alike, this is where they all throw.
void agree_on(const sx::Runtime& rt, const std::exception_ptr& local_error) {
  sx::from_rows({rt.size(), 1}, [local_error](std::int64_t first, std::int64_t last, double* out) {
    if (local_error) std::rethrow_exception(local_error);
    std::fill(out, out + (last - first), 0.0);
  }).evaluate();
}

// ---- timing and accounting of the phases ----

struct Phase {
  std::string name;
  double seconds = 0;
  sx::CommCounters comm;             // this rank (rank 0 prints)
  std::int64_t predicted_bytes = 0;  // the cost model's figure over all ranks
};

/// Runs `body` between two barriers, so the time is the slowest rank's, and records
/// the bytes this rank moved and the bytes the planner predicted for the evaluations.
template <class Body>
void phase(const sx::Runtime& rt, std::vector<Phase>& phases, std::string name, Body&& body) {
  const sx::CommCounters before = rt.counters();
  rt.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t predicted = body();
  rt.barrier();
  const auto t1 = std::chrono::steady_clock::now();
  const sx::CommCounters after = rt.counters();
  Phase p;
  p.name = std::move(name);
  p.seconds = std::chrono::duration<double>(t1 - t0).count();
  p.comm.bytes_sent = after.bytes_sent - before.bytes_sent;
  p.comm.bytes_received = after.bytes_received - before.bytes_received;
  p.comm.messages_sent = after.messages_sent - before.messages_sent;
  p.comm.messages_received = after.messages_received - before.messages_received;
  p.predicted_bytes = predicted;
  phases.push_back(std::move(p));
}

/// Evaluates the arrays in turn; returns the predicted bytes of those evaluations.
std::int64_t evaluate_all(std::initializer_list<const sx::Array*> arrays) {
  std::int64_t predicted = 0;
  for (const sx::Array* a : arrays) {
    a->evaluate();
    predicted += sx::last_evaluation_stats().predicted_bytes;
  }
  return predicted;
}

std::string shape_text(const sx::Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

int run(const sx::Runtime& rt, const std::string& data_dir) {
  const bool root = rt.rank() == 0;
  const std::string train_images = data_dir + "/train-images-idx3-ubyte.gz";
  const std::string train_labels = data_dir + "/train-labels-idx1-ubyte.gz";
  const std::string test_images = data_dir + "/t10k-images-idx3-ubyte.gz";
  const std::string test_labels = data_dir + "/t10k-labels-idx1-ubyte.gz";

  // 1. Open and check every file on every rank before any collective call.
  IdxHeader train_h, test_h;
  auto y_train = std::make_shared<std::vector<std::uint8_t>>();
  auto y_test = std::make_shared<std::vector<std::uint8_t>>();
  std::exception_ptr local_error;
  try {
    train_h = check_images(train_images);
    test_h = check_images(test_images);
    *y_train = read_labels(train_labels);
    *y_test = read_labels(test_labels);
    if (static_cast<std::int64_t>(y_train->size()) != train_h.n()) {
      throw sx::io_error(fmt::format("fashion-mnist: {} has {} labels but {} has {} images", train_labels,
                                     y_train->size(), train_images, train_h.n()));
    }
    if (static_cast<std::int64_t>(y_test->size()) != test_h.n()) {
      throw sx::io_error(fmt::format("fashion-mnist: {} has {} labels but {} has {} images", test_labels,
                                     y_test->size(), test_images, test_h.n()));
    }
    if (test_h.row_size() != train_h.row_size()) {
      throw sx::io_error(fmt::format("fashion-mnist: {} has {} pixels per image but {} has {}", test_images,
                                     test_h.row_size(), train_images, train_h.row_size()));
    }
  } catch (...) {
    local_error = std::current_exception();
  }
  agree_on(rt, local_error);

  const std::int64_t n = train_h.n();
  const std::int64_t nt = test_h.n();
  const std::int64_t d = train_h.row_size();
  if (root) {
    fmt::print("spartanxx-demo: nearest-centroid classification of Fashion-MNIST on {} ranks\n", rt.size());
    fmt::print("  data      {}\n", data_dir);
    fmt::print("  train     {} images of {}x{} pixels, test {} images\n", n, train_h.dims[1], train_h.dims[2],
               nt);
    std::fflush(stdout);
  }

  std::vector<Phase> phases;
  sx::Array X, Xt, Y, yt;

  // 2. Load: each rank decompresses and converts only its own rows.
  phase(rt, phases, "load", [&] {
    X = load_images(train_h);
    Xt = load_images(test_h);
    Y = one_hot(y_train);
    std::vector<std::int64_t> labels(y_test->begin(), y_test->end());
    yt = sx::from_buffer({nt}, sx::DType::i64, labels.data());
    return evaluate_all({&X, &Xt, &Y, &yt});
  });

  // 3. Per-pixel mean and standard deviation over the training set.
  sx::Array mu, sd;
  phase(rt, phases, "mean/std", [&] {
    mu = sx::mean(X, 0);
    sd = sx::sqrt(sx::mean(sx::square(X - mu), 0));
    return evaluate_all({&mu, &sd});
  });

  // 4. Standardize both sets with the training statistics; a pixel that is constant
  // over the training set (sd = 0) is only centred.
  sx::Array Xs, Xts;
  phase(rt, phases, "standardize", [&] {
    const sx::Array scale = sx::where(sd > 0.0, sd, 1.0);
    Xs = (X - mu) / scale;
    Xts = (Xt - mu) / scale;
    return evaluate_all({&Xs, &Xts});
  });

  // 5-6. Centroids and nearest-centroid predictions, on standardized and raw pixels.
  struct Variant {
    const char* name;
    const sx::Array* train;
    const sx::Array* test;
    double accuracy = 0;
  };
  std::vector<Variant> variants = {{"standardized", &Xs, &Xts}, {"raw", &X, &Xt}};
  sx::Array counts;
  for (Variant& v : variants) {
    sx::Array C;
    phase(rt, phases, fmt::format("centroids ({})", v.name), [&] {
      counts = sx::sum(Y, 0);                                        // (10,)
      C = sx::dot(Y.T(), *v.train) / counts.reshape({kClasses, 1});  // (10, 784)
      return evaluate_all({&C});
    });
    phase(rt, phases, fmt::format("classify ({})", v.name), [&] {
      const sx::Array scores = sx::dot(*v.test, C.T()) - 0.5 * sx::sum(sx::square(C), 1);  // (nt, 10)
      const sx::Array pred = sx::argmax(scores, 1);                                        // (nt,) int64
      const sx::Array acc = sx::mean(pred == yt);
      v.accuracy = acc.item();
      return sx::last_evaluation_stats().predicted_bytes;
    });
  }

  if (root) {
    fmt::print("  arrays    X {} {}, X_test {} {}, Y {} {}, centroids ({}, {})\n", shape_text(X.shape()),
               sx::dtype_name(X.dtype()), shape_text(Xt.shape()), sx::dtype_name(Xt.dtype()),
               shape_text(Y.shape()), sx::dtype_name(Y.dtype()), kClasses, d);
    fmt::print("\n  {:<26} {:>10} {:>12} {:>12} {:>10} {:>14}\n", "phase", "seconds", "sent", "received",
               "messages", "predicted");
    double total = 0;
    sx::CommCounters sum;
    for (const Phase& p : phases) {
      fmt::print("  {:<26} {:>10.3f} {:>12} {:>12} {:>10} {:>14}\n", p.name, p.seconds,
                 human_bytes(static_cast<double>(p.comm.bytes_sent)),
                 human_bytes(static_cast<double>(p.comm.bytes_received)), p.comm.messages_sent,
                 human_bytes(static_cast<double>(p.predicted_bytes)));
      total += p.seconds;
      sum.bytes_sent += p.comm.bytes_sent;
      sum.bytes_received += p.comm.bytes_received;
      sum.messages_sent += p.comm.messages_sent;
    }
    fmt::print("  {:<26} {:>10.3f} {:>12} {:>12} {:>10}\n", "total", total,
               human_bytes(static_cast<double>(sum.bytes_sent)),
               human_bytes(static_cast<double>(sum.bytes_received)), sum.messages_sent);
    fmt::print(
        "  (seconds: slowest rank; sent/received/messages: rank 0; predicted: cost model, all ranks)\n\n");
    for (const Variant& v : variants) {
      fmt::print("  accuracy, nearest centroid on {} pixels: {:.4f} ({} test images)\n", v.name, v.accuracy,
                 nt);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spartanxx::Runtime rt(argc, argv);

  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  CLI::App app{
      "spartanxx-demo: nearest-centroid classification of Fashion-MNIST with spartanxx arrays "
      "(run under mpirun)"};
  app.add_option(
         "--data-dir", data_dir,
         "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (Debian: dataset-fashion-mnist)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same arguments, so every rank ends here; rank 0 speaks.
    if (rt.rank() == 0) return app.exit(e);
    return e.get_exit_code();
  }

  try {
    return run(rt, data_dir);
  } catch (const std::exception& e) {
    // Errors are agreed on across ranks, so every rank normally lands here with the
    // same message; each says which rank it is.
    fmt::print(stderr, "[rank {}] spartanxx-demo: {}\n", rt.rank(), e.what());
    return 1;
  }
}

// Checkpoints: one consistent snapshot of named arrays and numbers in an HDF5 file,
// written atomically (temporary file, fsync, previous kept as ".prev", rename, fsync of
// the directory) and read back with its checksums verified, falling back to the
// previous checkpoint when the newest is damaged.
//
// File layout (format "spartanxx-checkpoint", version 2):
//   bytes 0-511  the seal, in HDF5's user block: the length and CRC-32 of the bytes after
//                it, checked before libhdf5 reads anything (libhdf5 1.10.8 can hang on
//                damaged metadata; tests/fuzz/README.md)
//   /            attributes format, format-version, kind, step, checksum
//   /arrays/NAME dense datasets, each with attribute checksum
//   /series/NAME 1-d float64 datasets
//   /scalars     a group whose attributes are the numbers
//   /texts       a group whose attributes are the texts
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "array/dist_array.hpp"
#include "expr/boundary.hpp"
#include "io/hdf5_file.hpp"
#include "io/hdf5_sparse.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/creation.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/io.hpp"

namespace spartanxx {
namespace detail::io {
namespace {

constexpr const char* kFormat = "spartanxx-checkpoint";
constexpr std::int64_t kVersion = 2;

// ---- the seal ----

constexpr hsize_t kSealBytes = 512;
constexpr std::string_view kSealMagic = "spartanxx-seal 1\n";
constexpr std::string_view kHdf5Signature = "\x89HDF\r\n\x1a\n";

struct Seal {
  std::int64_t bytes = 0;  // after the seal
  std::uint32_t crc = 0;
};

/// CRC-32 of bytes [lo, hi) of an open file.
std::uint32_t crc_of_range(int fd, std::int64_t lo, std::int64_t hi, const char* op, const std::string& path) {
  std::vector<unsigned char> buf(static_cast<std::size_t>(std::min<std::int64_t>(hi - lo, std::int64_t{1} << 20)));
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::int64_t at = lo; at < hi;) {
    const auto want = static_cast<std::size_t>(std::min<std::int64_t>(hi - at, static_cast<std::int64_t>(buf.size())));
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(at));
    if (got < 0) throw io_error(fmt::format("{}: cannot read {}: {}", op, path, std::strerror(errno)));
    if (got == 0) throw io_error(fmt::format("{}: {}: the file ended at byte {} while it was read", op, path, at));
    crc = crc32(crc, buf.data(), static_cast<uInt>(got));
    at += got;
  }
  return static_cast<std::uint32_t>(crc);
}

/// The CRC-32 of the bytes of `path` after the seal (the file is `size` bytes), each rank
/// reading a share. Collective.
std::uint32_t crc_after_seal(const std::string& path, std::int64_t size, const char* op, backend::Communicator& comm) {
  const std::int64_t body = size - static_cast<std::int64_t>(kSealBytes);
  const std::int64_t lo = static_cast<std::int64_t>(kSealBytes) + body * comm.rank() / comm.size();
  const std::int64_t hi = static_cast<std::int64_t>(kSealBytes) + body * (comm.rank() + 1) / comm.size();
  std::int64_t part[2] = {0, hi - lo};
  comm.run_agreed([&] {
    if (hi == lo) return;
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) throw io_error(fmt::format("{}: cannot open {}: {}", op, path, std::strerror(errno)));
    try {
      part[0] = crc_of_range(fd, lo, hi, op, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
  });
  const std::vector<std::int64_t> parts = comm.allgather(part, 2);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t r = 0; r < parts.size(); r += 2)
    crc = crc32_combine(crc, static_cast<uLong>(parts[r]), static_cast<z_off_t>(parts[r + 1]));
  return static_cast<std::uint32_t>(crc);
}

std::int64_t file_size(const std::string& path, const char* op) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw io_error(fmt::format("{}: cannot open {}: {}", op, path, std::strerror(errno)));
  return static_cast<std::int64_t>(st.st_size);
}

/// Writes the seal of a closed checkpoint file. Collective.
void write_seal(const std::string& path, const char* op, backend::Communicator& comm) {
  std::int64_t size = 0;
  comm.run_agreed([&] { size = file_size(path, op); });
  const Seal s{size - static_cast<std::int64_t>(kSealBytes), crc_after_seal(path, size, op, comm)};
  comm.run_agreed([&] {
    if (comm.rank() != 0) return;
    std::string text = fmt::format("{}bytes {}\ncrc32 {:08x}\n", kSealMagic, s.bytes, s.crc);
    text.resize(kSealBytes, '\0');
    const int fd = ::open(path.c_str(), O_WRONLY);
    const bool ok = fd >= 0 && ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
    const int err = errno;
    if (fd >= 0) ::close(fd);
    if (!ok) throw io_error(fmt::format("{}: cannot write {}: {}", op, path, std::strerror(err)));
  });
}

/// A whole field as an unsigned number in `base` (no sign, no spaces); false otherwise.
bool parse_field(std::string_view v, int base, std::uint64_t& out) {
  const char* e = v.data() + v.size();
  const auto r = std::from_chars(v.data(), e, out, base);
  return !v.empty() && r.ec == std::errc() && r.ptr == e;
}

/// Reads the seal of `path` ("spartanxx-seal 1\nbytes N\ncrc32 XXXXXXXX\n", then NULs to
/// byte 512) and checks the file's length against it; io_error naming what is wrong.
Seal read_seal(const std::string& path, std::int64_t size, const char* op) {
  std::string head(kSealBytes, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw io_error(fmt::format("{}: cannot open {}: {}", op, path, std::strerror(errno)));
  const ssize_t got = ::pread(fd, head.data(), head.size(), 0);
  const int err = errno;
  ::close(fd);
  if (got < 0) throw io_error(fmt::format("{}: cannot read {}: {}", op, path, std::strerror(err)));
  head.resize(static_cast<std::size_t>(got));
  if (head.rfind(kSealMagic, 0) != 0) {
    if (head.rfind(kHdf5Signature, 0) == 0)
      throw io_error(fmt::format("{}: {} is not a spartanxx checkpoint (an HDF5 file without a spartanxx seal; "
                                 "checkpoints and models of format 1, before the seal, are not read)",
                                 op, path));
    throw io_error(fmt::format("{}: {} is not a spartanxx checkpoint (no spartanxx seal)", op, path));
  }
  auto damaged_seal = [&] { return io_error(fmt::format("{}: {}: the seal at its start is damaged (damaged file)", op, path)); };
  if (got < static_cast<ssize_t>(kSealBytes)) throw damaged_seal();
  std::string_view rest = std::string_view(head).substr(kSealMagic.size());
  auto field = [&](std::string_view key) -> std::string_view {
    if (rest.substr(0, key.size()) != key) throw damaged_seal();
    rest.remove_prefix(key.size());
    const std::size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) throw damaged_seal();
    const std::string_view v = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    return v;
  };
  const std::string_view bytes = field("bytes "), crc = field("crc32 ");
  if (rest.find_first_not_of('\0') != std::string_view::npos) throw damaged_seal();
  std::uint64_t b = 0, c = 0;
  if (!parse_field(bytes, 10, b) || b > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) - kSealBytes ||
      crc.size() != 8 || !parse_field(crc, 16, c))
    throw damaged_seal();
  const Seal s{static_cast<std::int64_t>(b), static_cast<std::uint32_t>(c)};
  const std::int64_t want = s.bytes + static_cast<std::int64_t>(kSealBytes);
  if (size != want)
    throw io_error(fmt::format("{}: {} is {} bytes; it was {} bytes when written ({})", op, path, size, want,
                               size < want ? "truncated" : "bytes were added"));
  return s;
}

/// Checks the seal of `path` (its length and the CRC-32 of its bytes) before libhdf5
/// reads the file: rank 0 reads the seal, every rank checks its share of the bytes;
/// io_error on every rank naming what is wrong. Collective.
void verify_seal(const std::string& path, const char* op, backend::Communicator& comm) {
  std::int64_t sealed[3] = {0, 0, 0};  // the file's size, the seal's byte count and CRC
  comm.run_agreed([&] {
    if (comm.rank() != 0) return;
    sealed[0] = file_size(path, op);
    const Seal s = read_seal(path, sealed[0], op);
    sealed[1] = s.bytes;
    sealed[2] = s.crc;
  });
  comm.broadcast(sealed, 3, 0);
  const std::uint32_t crc = crc_after_seal(path, sealed[0], op, comm);
  const auto want = static_cast<std::uint32_t>(sealed[2]);
  comm.run_agreed([&] {
    if (crc != want)
      throw io_error(fmt::format("{}: {}: the checksum (CRC-32) of its bytes is {:08x}; it was {:08x} when written "
                                 "(damaged file)",
                                 op, path, crc, want));
  });
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_text(const std::string& s) {  // FNV-1a, 64 bits
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

/// Σ over the elements of mix(bits + (global C-order index + 1) · φ): independent of how
/// the array is tiled, so a file written at P ranks checks at any other count.
/// Replicated tiles count once (rank 0's). Collective.
std::uint64_t checksum_of(const DistArray& a, backend::Communicator& comm) {
  const Shape& shape = a.shape();
  const int nd = static_cast<int>(shape.size());
  const std::size_t e = itemsize(a.dtype());
  std::uint64_t sum = 0;
  for (const Tile& tile : a.tiles()) {
    const int owner = a.layout().owner(tile.id);
    if (owner != comm.rank() && !(owner == tiling::kReplicated && comm.rank() == 0)) continue;
    const Box& box = tile.box;
    if (box.volume() == 0) continue;
    const std::byte* p = tile.data.data();
    auto element = [&](std::int64_t global) {
      std::uint64_t bits = 0;
      std::memcpy(&bits, p, e);
      p += e;
      sum += mix(bits + static_cast<std::uint64_t>(global + 1) * 0x9e3779b97f4a7c15ULL);
    };
    if (nd == 0) {
      element(0);
      continue;
    }
    // Every run of the last axis, its global offset from the other axes' indices.
    std::vector<index_t> at(box.lo.begin(), box.lo.end());
    const index_t inner = box.extent(nd - 1);
    while (true) {
      std::int64_t base = 0;
      for (int k = 0; k < nd; ++k) base = base * shape[static_cast<std::size_t>(k)] + at[static_cast<std::size_t>(k)];
      for (index_t j = 0; j < inner; ++j) element(base + j);
      int k = nd - 2;
      while (k >= 0 && ++at[static_cast<std::size_t>(k)] == box.hi[static_cast<std::size_t>(k)]) {
        at[static_cast<std::size_t>(k)] = box.lo[static_cast<std::size_t>(k)];
        --k;
      }
      if (k < 0) break;
    }
  }
  return comm.allreduce(sum, backend::ReduceOp::sum);
}

std::int64_t as_attribute(std::uint64_t v) {
  std::int64_t s;
  std::memcpy(&s, &v, sizeof s);
  return s;
}

/// The file's checksum from its parts (arrays' own checksums, numbers, texts).
std::uint64_t file_checksum(const spartanxx::io::Snapshot& s, const std::map<std::string, std::uint64_t>& arrays,
                            const std::map<std::string, std::uint64_t>& series) {
  std::uint64_t h = mix(hash_text(s.kind) ^ static_cast<std::uint64_t>(s.step));
  for (const auto& [name, c] : arrays) h += mix(hash_text("a/" + name) ^ c);
  for (const auto& [name, c] : series) h += mix(hash_text("s/" + name) ^ c);
  for (const auto& [name, v] : s.scalars) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    h += mix(hash_text("n/" + name) ^ bits);
  }
  for (const auto& [name, t] : s.texts) h += mix(hash_text("t/" + name) ^ hash_text(t));
  return h;
}

void check_names(const char* op, const std::string& path, const spartanxx::io::Snapshot& s) {
  auto bad = [&](const std::string& name, const char* what) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      throw value_error(fmt::format("{}: {}: the {} name \"{}\" must be non-empty and hold no '/'", op, path, what, name));
  };
  for (const auto& kv : s.arrays) bad(kv.first, "array");
  for (const auto& kv : s.series) bad(kv.first, "series");
  for (const auto& kv : s.scalars) bad(kv.first, "scalar");
  for (const auto& kv : s.texts) bad(kv.first, "text");
}

/// fsync of a file or directory by name (rank 0's part of a durable rename).
void sync_path(const std::string& path, const char* op) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    throw io_error(fmt::format("{}: fsync of {} failed: {}", op, path, std::strerror(err)));
  }
  ::close(fd);
}

std::string directory_of(const std::string& path) {
  const std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

/// Temporary files that a killed writer of `path` left behind.
void remove_stale(const std::string& path) {
  const std::string stem = std::filesystem::path(path).filename().string() + ".tmp-";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory_of(path), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
}

H5Id make_group(hid_t file, const char* name, const Where& where, backend::Communicator& comm) {
  hid_t g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Id out;
  comm.run_agreed([&] { out = H5Id(check_id(g, where, fmt::format("creating {}", name).c_str()), H5Gclose); });
  return out;
}

/// The names of a group's members (every rank reads the same metadata).
std::vector<std::string> members(hid_t file, const char* group) {
  std::vector<std::string> out;
  if (!exists(file, group)) return out;
  H5Id g(H5Gopen2(file, group, H5P_DEFAULT), H5Gclose);
  if (!g.valid()) return out;
  hsize_t at = 0;
  H5Literate(
      g.get(), H5_INDEX_NAME, H5_ITER_INC, &at,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &out);
  return out;
}

spartanxx::io::Snapshot read_snapshot(const std::string& file_path) {
  constexpr const char* op = "restore";
  auto& comm = context_comm();
  verify_seal(file_path, op, comm);
  H5Id file = open_for_read(file_path, op, comm);
  const Where root{op, file_path, "/"};
  spartanxx::io::Snapshot s;
  std::uint64_t stored = 0;
  std::vector<std::string> arrays, series;
  spartanxx::io::Attributes scalars, texts;
  comm.run_agreed([&] {
    H5Id g(check_id(H5Gopen2(file.get(), "/", H5P_DEFAULT), root, "opening the root group"), H5Gclose);
    const spartanxx::io::Attributes a = read_attributes(g.get(), root);
    auto text = [&](const char* name) -> std::string {
      const auto it = a.find(name);
      if (it == a.end() || !std::holds_alternative<std::string>(it->second))
        throw io_error(fmt::format("{}: {} is not a spartanxx checkpoint (no {} attribute)", op, file_path, name));
      return std::get<std::string>(it->second);
    };
    auto integer = [&](const char* name) -> std::int64_t {
      const auto it = a.find(name);
      if (it == a.end() || !std::holds_alternative<std::int64_t>(it->second))
        throw io_error(fmt::format("{}: {}: the checkpoint has no {} attribute", op, file_path, name));
      return std::get<std::int64_t>(it->second);
    };
    if (text("format") != kFormat)
      throw io_error(fmt::format("{}: {} is not a spartanxx checkpoint (format \"{}\")", op, file_path, text("format")));
    const std::int64_t version = integer("format-version");
    if (version != kVersion)
      throw io_error(fmt::format("{}: {} has checkpoint format version {}; this spartanxx reads version {}", op,
                                 file_path, version, kVersion));
    s.kind = text("kind");
    s.step = integer("step");
    const std::int64_t c = integer("checksum");
    std::memcpy(&stored, &c, sizeof stored);
    arrays = members(file.get(), "/arrays");
    series = members(file.get(), "/series");
    for (const char* group : {"/scalars", "/texts"}) {
      if (!exists(file.get(), group)) throw io_error(fmt::format("{}: {}: the checkpoint has no {} group", op, file_path, group));
      H5Id h(check_id(H5Gopen2(file.get(), group, H5P_DEFAULT), root, group), H5Gclose);
      (group[1] == 's' ? scalars : texts) = read_attributes(h.get(), Where{op, file_path, group});
    }
  });
  file = H5Id();
  for (const auto& [name, v] : scalars) {
    if (const auto* d = std::get_if<double>(&v)) s.scalars[name] = *d;
  }
  for (const auto& [name, v] : texts) {
    if (const auto* t = std::get_if<std::string>(&v)) s.texts[name] = *t;
  }
  std::map<std::string, std::uint64_t> sums, series_sums;
  for (const std::string& name : arrays) {
    const std::string object = "/arrays/" + name;
    Array a = spartanxx::io::read_hdf5(file_path, object);
    const std::uint64_t c = checksum_of(data_of(a), comm);
    const spartanxx::io::Attributes at = spartanxx::io::read_hdf5_attributes(file_path, object);
    const auto it = at.find("checksum");
    comm.run_agreed([&] {
      std::int64_t want = 0;
      if (it != at.end() && std::holds_alternative<std::int64_t>(it->second)) want = std::get<std::int64_t>(it->second);
      if (it == at.end() || as_attribute(c) != want)
        throw io_error(fmt::format("{}: {}:{}: the array's checksum does not match its elements (damaged file)", op,
                                   file_path, object));
    });
    sums[name] = c;
    s.arrays[name] = std::move(a);
  }
  for (const std::string& name : series) {
    const Array a = spartanxx::io::read_hdf5(file_path, "/series/" + name);
    series_sums[name] = checksum_of(data_of(a), comm);
    s.series[name] = to_vector<double>(a);
  }
  comm.run_agreed([&] {
    if (file_checksum(s, sums, series_sums) != stored)
      throw io_error(fmt::format("{}: {}: the checkpoint's checksum does not match its contents (damaged file)", op,
                                 file_path));
  });
  return s;
}

}  // namespace
}  // namespace detail::io

namespace io {

void checkpoint(const std::string& path, const Snapshot& snapshot, bool keep_previous) {
  constexpr const char* op = "checkpoint";
  auto& comm = detail::context_comm();
  comm.run_agreed([&] {
    detail::io::check_names(op, path, snapshot);
    for (const auto& [name, a] : snapshot.arrays)
      if (a.is_sparse())
        throw value_error(fmt::format("{}: {}: array \"{}\" is sparse; checkpoints hold dense arrays", op, path, name));
  });
  // Everything computed before the file is touched: a failed evaluation leaves no file.
  std::map<std::string, const detail::DistArray*> data;
  std::map<std::string, detail::DistArray> summed;  // partial sums, added up by rows
  for (const auto& [name, a] : snapshot.arrays) {
    const detail::DistArray& d = detail::data_of(a);
    if (d.layout().is_partial()) {
      summed[name] = detail::redistribute(d, detail::Layout::rows(d.shape(), comm.size()), comm);
      data[name] = &summed[name];
    } else {
      data[name] = &d;
    }
  }
  std::map<std::string, std::uint64_t> sums, series_sums;
  for (const auto& [name, d] : data) sums[name] = detail::io::checksum_of(*d, comm);
  std::map<std::string, detail::DistArray> series;
  for (const auto& [name, v] : snapshot.series) {
    const Array a = from_buffer({static_cast<std::int64_t>(v.size())}, DType::f64, v.data());
    series[name] = detail::data_of(a);
    series_sums[name] = detail::io::checksum_of(series[name], comm);
  }
  const std::uint64_t total = detail::io::file_checksum(snapshot, sums, series_sums);

  std::int64_t pid = static_cast<std::int64_t>(::getpid());
  comm.broadcast(&pid, 1, 0);
  const std::string tmp = fmt::format("{}.tmp-{}", path, pid);
  comm.run_agreed([&] {
    if (comm.rank() == 0) detail::io::remove_stale(path);
  });
  const detail::io::Where root{op, path, "/"};
  try {
    detail::io::H5Id file = detail::io::open_for_write(tmp, /*create=*/true, op, comm, /*checksummed=*/true,
                                                             detail::io::kSealBytes);
    {
      hid_t g = H5Gopen2(file.get(), "/", H5P_DEFAULT);
      detail::io::H5Id group;
      comm.run_agreed([&] {
        group = detail::io::H5Id(detail::io::check_id(g, root, "opening the root group"), H5Gclose);
        detail::io::write_attributes(group.get(),
                                     {{"format", std::string(detail::io::kFormat)},
                                      {"format-version", detail::io::kVersion},
                                      {"kind", snapshot.kind},
                                      {"step", snapshot.step},
                                      {"checksum", detail::io::as_attribute(total)}},
                                     root);
      });
    }
    detail::io::make_group(file.get(), "/arrays", root, comm);
    detail::io::make_group(file.get(), "/series", root, comm);
    for (const auto& [name, d] : data) {
      Hdf5Options o;
      o.attributes["checksum"] = detail::io::as_attribute(sums[name]);
      detail::io::write_dense(file.get(), "/arrays/" + name, *d, o, {op, path, "/arrays/" + name}, comm);
    }
    for (const auto& [name, d] : series) detail::io::write_dense(file.get(), "/series/" + name, d, {}, {op, path, "/series/" + name}, comm);
    Attributes scalars, texts;
    for (const auto& [name, v] : snapshot.scalars) scalars[name] = v;
    for (const auto& [name, t] : snapshot.texts) texts[name] = t;
    {
      detail::io::H5Id g = detail::io::make_group(file.get(), "/scalars", root, comm);
      comm.run_agreed([&] { detail::io::write_attributes(g.get(), scalars, {op, path, "/scalars"}); });
      detail::io::H5Id h = detail::io::make_group(file.get(), "/texts", root, comm);
      comm.run_agreed([&] { detail::io::write_attributes(h.get(), texts, {op, path, "/texts"}); });
    }
    const herr_t closed = file.close();
    comm.run_agreed([&] {
      if (closed < 0) throw io_error(fmt::format("{}: cannot write {}: closing the file failed", op, path));
    });
    detail::io::write_seal(tmp, op, comm);
    // Durable replacement: the new file's bytes on disk, the old one kept as .prev, the
    // rename, then the directory entry on disk.
    comm.run_agreed([&] {
      if (comm.rank() != 0) return;
      detail::io::sync_path(tmp, op);
      const std::string prev = path + ".prev";
      if (keep_previous && ::access(path.c_str(), F_OK) == 0) {
        ::unlink(prev.c_str());
        if (::link(path.c_str(), prev.c_str()) != 0 && std::rename(path.c_str(), prev.c_str()) != 0)
          throw io_error(fmt::format("{}: cannot keep the previous checkpoint as {}: {}", op, prev, std::strerror(errno)));
      }
      if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw io_error(fmt::format("{}: cannot write {}: renaming {} to it failed: {}", op, path, tmp, std::strerror(errno)));
      detail::io::sync_path(detail::io::directory_of(path), op);
    });
  } catch (...) {
    if (comm.rank() == 0) ::unlink(tmp.c_str());
    comm.barrier();
    throw;
  }
}

Snapshot read_checkpoint(const std::string& path) { return detail::io::read_snapshot(path); }

Restored restore(const std::string& path) {
  auto& comm = detail::context_comm();
  Restored out;
  for (const std::string& candidate : {path, path + ".prev"}) {
    bool present = false;
    comm.run_agreed([&] { present = ::access(candidate.c_str(), F_OK) == 0; });
    if (!present) {
      out.rejected.push_back(fmt::format("restore: {}: no such file", candidate));
      continue;
    }
    try {
      out.snapshot = detail::io::read_snapshot(candidate);
      out.file = candidate;
      return out;
    } catch (const io_error& e) {
      out.rejected.push_back(e.what());
    } catch (const value_error& e) {
      out.rejected.push_back(e.what());
    } catch (const dtype_error& e) {
      out.rejected.push_back(e.what());
    }
  }
  std::string why;
  for (const std::string& r : out.rejected) why += "\n  " + r;
  throw io_error(fmt::format("restore: no usable checkpoint at {} or {}.prev:{}", path, path, why));
}

}  // namespace io
}  // namespace spartanxx

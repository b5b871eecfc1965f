// io::read_text_lines on gzip files. The first byte picks a mode:
//   0: the rest is taken as a .gz file as it is: read, or a typed error naming it;
//   1: the rest is text, gzip-compressed here (as one member, or two when the second
//      byte says so): the lines read from the .gz must equal those read from the text
//      as a plain file;
//   2: the same text compressed and then damaged (cut short anywhere before the end of
//      its trailer, or followed by bytes that are not a gzip member): an io_error
//      naming the file, never lines.
#include <zlib.h>

#include <vector>

#include "fuzz_common.hpp"
#include "spartanxx/io.hpp"

namespace io = spartanxx::io;

namespace {

std::vector<std::uint8_t> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fuzz::finding("deflateInit2");
  std::vector<std::uint8_t> out(deflateBound(&z, size) + 32);
  z.next_in = const_cast<std::uint8_t*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) fuzz::finding("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

io::TextLines read(const std::string& path) {
  io::TextLines t;
  if (!fuzz::expect_typed(path, [&] { t = io::read_text_lines(path); })) fuzz::finding("a good file was rejected: " + path);
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::runtime();
  if (size < 2) return 0;
  const int mode = data[0] % 3;
  const std::uint8_t knob = data[1];
  data += 2, size -= 2;
  if (mode == 0) {
    const std::string& path = fuzz::write_input(data, size, ".gz");
    fuzz::expect_typed(path, [&] { io::read_text_lines(path); });
    return 0;
  }
  std::vector<std::uint8_t> gz;
  const std::size_t cut = size ? knob * size / 256 : 0;
  if (mode == 1 && (knob & 1) && size > 1) {  // two members, split inside the text
    gz = gzip(data, cut);
    const auto second = gzip(data + cut, size - cut);
    gz.insert(gz.end(), second.begin(), second.end());
  } else {
    gz = gzip(data, size);
  }
  if (mode == 1) {
    const std::string plain = fuzz::write_input(data, size, ".txt");
    const io::TextLines expected = read(plain);
    const std::string& path = fuzz::write_input(gz.data(), gz.size(), ".gz");
    const io::TextLines got = read(path);
    if (got.lines != expected.lines || got.total_lines != expected.total_lines || got.first_line != expected.first_line)
      fuzz::finding("the lines of the .gz differ from those of the text");
    return 0;
  }
  if (knob & 1) {
    gz.resize(knob / 2 * (gz.size() - 1) / 127);  // cut short: 0 .. size-1 bytes kept
  } else {
    gz.push_back('x');  // not the 0x1f 0x8b of another member
    gz.insert(gz.end(), data, data + std::min<std::size_t>(size, knob));
  }
  const std::string& path = fuzz::write_input(gz.data(), gz.size(), ".gz");
  if (fuzz::expect_typed(path, [&] { io::read_text_lines(path); }))
    fuzz::finding(knob & 1 ? "a truncated gzip file was read" : "a gzip file with trailing bytes was read");
  return 0;
}

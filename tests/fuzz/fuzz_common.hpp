#pragma once
// Shared by the fuzz targets: a one-rank spartanxx runtime, the input written to a file
// (the readers take paths), and the rule every target enforces: a reader either returns
// or throws one of spartanxx's typed errors whose message names the file. Anything else
// (a bare std::bad_alloc, std::length_error, a crash, a hang, a leak) is a finding, and
// abort() makes libFuzzer (or the replay driver) report it with the input.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "spartanxx/errors.hpp"
#include "spartanxx/runtime.hpp"

namespace fuzz {

/// The runtime, made on first use (MPI as a singleton: no mpirun needed), with a memory
/// limit far below libFuzzer's RSS limit, so that a reader which allocates what a
/// header declares without asking require_memory() first shows up as an OOM finding.
/// 64 MiB keeps every accepted input small enough to check within libFuzzer's timeout
/// under the sanitizers (a header may declare up to 8 million rows with one entry).
inline spartanxx::Runtime& runtime() {
  static spartanxx::Runtime* rt = [] {
    // Open MPI's plugins stay loaded, so that a leak report from inside one names it
    // (and lsan.supp can tell Open MPI's own leaks from spartanxx's).
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    auto* r = new spartanxx::Runtime();  // never destroyed: MPI stays up until exit
    spartanxx::set_memory_limit(std::int64_t{64} << 20, "fuzz target limit");
    return r;
  }();
  return *rt;
}

}  // namespace fuzz

/// libFuzzer calls this once before the first input (the replay driver too): MPI is
/// started here, so its one-time allocations are not taken for an input's leak.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::runtime();
  return 0;
}

namespace fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// A file of this process holding `data`, under /dev/shm when it exists (memory, fast).
inline const std::string& write_input(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static std::string path;
  static const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  path = std::string(dir) + "/spartanxx-fuzz-" + std::to_string(getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) finding("cannot create " + path);
  if (size && std::fwrite(data, 1, size, f) != size) finding("cannot write " + path);
  if (std::fclose(f) != 0) finding("cannot close " + path);
  return path;
}

/// Runs `read`; a typed spartanxx error is an accepted outcome (io_error must name
/// `path`), any other exception a finding. Returns whether `read` returned.
template <class F>
bool expect_typed(const std::string& path, F&& read) {
  try {
    read();
    return true;
  } catch (const spartanxx::io_error& e) {
    if (std::string_view(e.what()).find(path) == std::string_view::npos)
      finding(std::string("io_error without the file name: ") + e.what());
  } catch (const spartanxx::memory_error&) {
  } catch (const spartanxx::value_error&) {
  } catch (const spartanxx::shape_error&) {
  } catch (const spartanxx::dtype_error&) {
  } catch (const spartanxx::index_error&) {
  } catch (const std::exception& e) {
    finding(std::string("untyped exception ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding("a non-std exception");
  }
  return false;
}

}  // namespace fuzz

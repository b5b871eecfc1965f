// What a rank may use, and the checks made against it before allocating by input.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "api/memory.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx {

namespace {

std::mutex g_mutex;
std::int64_t g_set = 0;
std::string g_source;

/// A number from a /proc or cgroup file ("max", unreadable or missing: -1); with `key`,
/// /proc/meminfo's "Key: N kB" in bytes.
std::int64_t read_number(const char* path, const std::string& key = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    try {
      if (!key.empty()) {
        if (line.rfind(key + ":", 0) != 0) continue;
        return std::stoll(line.substr(key.size() + 1)) * 1024;
      }
      if (line == "max") return -1;
      return std::stoll(line);
    } catch (const std::exception&) {
      return -1;
    }
  }
  return -1;
}

std::string gigabytes(double bytes) { return fmt::format("{:.2f} GB", bytes / 1e9); }

MemoryLimit system_limit();

}  // namespace

std::int64_t parse_bytes(const std::string& text) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return -1;
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  static const std::string units = "KMGT";
  double scale = 1;
  if (unit.size() == 1) {
    const auto at = units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))));
    if (at == std::string::npos) return -1;
    scale = std::pow(1024.0, 1.0 + static_cast<double>(at));
  } else if (!unit.empty()) {
    return -1;
  }
  if (!(v > 0) || !(v * scale < 9e18)) return -1;
  return static_cast<std::int64_t>(v * scale);
}

void set_memory_limit(std::int64_t bytes, std::string source) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_set = std::max<std::int64_t>(0, bytes);
  g_source = std::move(source);
}

MemoryLimit memory_limit() {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (g_set > 0) return {g_set, g_source};
  }
  if (const char* env = std::getenv("SPARTANXX_MAX_MEMORY"); env && *env) {
    const std::int64_t b = parse_bytes(env);
    if (b <= 0)
      throw value_error(fmt::format("SPARTANXX_MAX_MEMORY={} is not a size (a number of bytes, or with K, M, G, T)", env));
    return {b, "SPARTANXX_MAX_MEMORY"};
  }
  // The system's answer is read at most once a second: an allocation checked against it
  // does not pay for reading /proc each time.
  using Clock = std::chrono::steady_clock;
  static MemoryLimit cached;
  static Clock::time_point read_at;
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (read_at != Clock::time_point{} && now - read_at < std::chrono::seconds(1)) return cached;
  }
  const MemoryLimit fresh = system_limit();
  std::lock_guard<std::mutex> lock(g_mutex);
  cached = fresh;
  read_at = now;
  return fresh;
}

namespace {

/// What this rank may use by the node's available memory and its cgroup's limit, shared
/// with the other ranks on the node.
MemoryLimit system_limit() {
  std::int64_t avail = read_number("/proc/meminfo", "MemAvailable");
  std::string why = "MemAvailable";
  if (const std::int64_t v2 = read_number("/sys/fs/cgroup/memory.max"); v2 > 0) {
    const std::int64_t room = v2 - std::max<std::int64_t>(0, read_number("/sys/fs/cgroup/memory.current"));
    if (avail < 0 || room < avail) avail = room, why = "the cgroup's memory.max";
  }
  if (const std::int64_t v1 = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
      v1 > 0 && v1 < (std::int64_t{1} << 60)) {
    const std::int64_t room = v1 - std::max<std::int64_t>(0, read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes"));
    if (avail < 0 || room < avail) avail = room, why = "the cgroup's memory limit";
  }
  if (avail < 0) return {-1, "unknown"};
  int local = 1;
  if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(l));
  return {std::max<std::int64_t>(1, avail / local), fmt::format("{} / {} rank{} on this node", why, local, local == 1 ? "" : "s")};
}

}  // namespace

void require_memory(const std::string& what, double bytes_per_rank) {
  if (!(bytes_per_rank >= 0)) bytes_per_rank = 0;
  const MemoryLimit m = memory_limit();
  if (m.bytes > 0 && bytes_per_rank > static_cast<double>(m.bytes))
    throw memory_error(fmt::format("{} needs about {} per rank but a rank may use {} ({})", what, gigabytes(bytes_per_rank),
                                   gigabytes(static_cast<double>(m.bytes)), m.source));
}

std::exception_ptr detail::name_memory_failure(std::exception_ptr e, const std::string& what) {
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    return std::make_exception_ptr(memory_error(what + ": out of memory (std::bad_alloc)"));
  } catch (const memory_error& m) {
    return std::make_exception_ptr(memory_error(what + ": " + m.what()));
  } catch (...) {
    return e;
  }
}

}  // namespace spartanxx

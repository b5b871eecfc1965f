#pragma once
// Allocation failures named with what was being made (the public checks are in
// spartanxx/runtime.hpp: memory_limit, require_memory).
#include <exception>
#include <string>

namespace spartanxx::detail {

/// The exception `e`, with a failure to get memory named by `what` ("from_rows (3, 4)
/// float64", "matmul (10, 10) float64"): a std::bad_alloc becomes memory_error("WHAT: out
/// of memory (std::bad_alloc)"), a memory_error "WHAT: its message"; any other exception
/// is returned as it is.
std::exception_ptr name_memory_failure(std::exception_ptr e, const std::string& what);

}  // namespace spartanxx::detail

#pragma once
// Typed exceptions. Every error that spartanxx throws derives from a std exception and
// names the operation and the shapes, files or ranks involved. Errors detected while a
// graph is built (shapes, axes, dtypes) are thrown identically on every rank; errors
// only one rank can see are agreed on collectively so that every rank throws the same.
#include <stdexcept>
#include <string>
#include <tuple>

namespace spartanxx {

/// Operands whose shapes do not broadcast, align for dot, or reshape.
class shape_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// An axis outside [-ndim, ndim).
class axis_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A dtype that an operation does not take.
class dtype_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A value an operation cannot work with (empty reduction without identity, bad step).
class value_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// An index or slice bound outside the array.
class index_error : public std::out_of_range {
 public:
  using std::out_of_range::out_of_range;
};

/// A file that cannot be read or written, or malformed input.
class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failed MPI call; the message carries MPI's error string.
class mpi_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Memory a rank cannot have: an allocation sized by the input (a declared shape, a
/// feature count) that is larger than what a rank may use (see memory_limit()), or an
/// allocation that failed (std::bad_alloc), named with the operation, shapes and rank.
class memory_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure on some rank whose original type is not one of the above (for example
/// a user's own exception type), re-thrown on every rank with the failing rank's message.
class remote_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
/// The exception types an error agreement carries from the failing rank to every rank,
/// the most derived first: the types above, then the std types they derive from. Any
/// other exception arrives as remote_error.
using agreed_errors = std::tuple<shape_error, axis_error, dtype_error, value_error, index_error, io_error, mpi_error,
                                 memory_error, remote_error, std::invalid_argument, std::out_of_range, std::runtime_error>;
}  // namespace detail

}  // namespace spartanxx

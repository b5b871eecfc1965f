#pragma once
// Forward declarations of spartanxx's public types. Includes nothing, on purpose: any
// header may include it to name a type without pulling in its definition.
namespace spartanxx {
class Runtime;
class Array;
struct Range;
struct EvalStats;
struct CommCounters;
enum class DType;
namespace detail {
struct Node;
struct ArrayAccess;
}
}  // namespace spartanxx

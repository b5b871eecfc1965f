#include "expr/build.hpp"
#include "expr/plan.hpp"

namespace spartanxx {

std::string explain(const Array& a) { return detail::explain_plan(detail::node_of(a, "explain")); }

}  // namespace spartanxx

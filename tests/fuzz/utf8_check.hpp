#pragma once
// Well-formed UTF-8, decided by ICU (independent of spartanxx's own repair_utf8).
#include <unicode/ustring.h>

#include <string_view>
#include <vector>

namespace fuzz {

inline bool is_utf8(std::string_view s) {
  if (s.empty()) return true;
  UErrorCode status = U_ZERO_ERROR;
  std::int32_t needed = 0;
  u_strFromUTF8(nullptr, 0, &needed, s.data(), static_cast<std::int32_t>(s.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) status = U_ZERO_ERROR;  // preflighting reports this when all is well
  return U_SUCCESS(status);
}

}  // namespace fuzz

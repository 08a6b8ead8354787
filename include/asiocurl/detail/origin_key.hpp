#ifndef ASIOCURL_DETAIL_ORIGIN_KEY_HPP
#define ASIOCURL_DETAIL_ORIGIN_KEY_HPP

#include <cstdint>
#include <string_view>

namespace asiocurl::detail {

// A hash of the origin a URL names, as curl groups connections (host name, case-folded, and port; the
// scheme's default port when none is written): what a pool routes by, so that one origin's connections live
// in one multi. 0 when the URL names no host. No allocation, no validation: curl judges the URL itself.
std::uint64_t origin_key(std::string_view url) noexcept;

}  // namespace asiocurl::detail

#endif

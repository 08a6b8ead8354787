// fetch_error: curl's detail and a URL fit to show (no credentials, no query).
#include <asiocurl/http/fetch_error.hpp>

#include <algorithm>

namespace asiocurl::http {
namespace detail {

std::string redacted_url(std::string_view url) {
    // The query and fragment often carry tokens (signed URLs, api keys): only their mark stays.
    std::string_view kept = url;
    std::string_view tail;
    if (const auto cut = url.find_first_of("?#"); cut != std::string_view::npos) {
        kept = url.substr(0, cut);
        tail = url[cut] == '?' ? "?..." : "#...";
    }
    // RFC 3986 3.2.1: userinfo ends at the last '@' before the authority ends.
    const auto scheme_end = kept.find("://");
    const auto authority_begin = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const auto authority_end = std::min(kept.find('/', authority_begin), kept.size());
    const auto at = kept.substr(authority_begin, authority_end - authority_begin).rfind('@');
    std::string out;
    out.reserve(kept.size() + tail.size());
    if (at == std::string_view::npos) {
        out.append(kept);
    } else {
        out.append(kept.substr(0, authority_begin));
        out.append(kept.substr(authority_begin + at + 1));
    }
    out.append(tail);
    return out;
}

}  // namespace detail

fetch_error::fetch_error(error_code ec, std::string curl_message, std::string_view url, unsigned attempts)
    : boost::system::system_error(ec),
      curl_message_(std::move(curl_message)),
      url_(detail::redacted_url(url)),
      attempts_(attempts) {
    // system_error's own text would start ": " without a prefix; empty parts are left out instead.
    for (std::string_view part : {std::string_view(url_), std::string_view(curl_message_)}) {
        if (part.empty()) continue;
        what_.append(part);
        what_.append(": ");
    }
    what_.append(ec.what());
    if (attempts_ > 1) {
        what_.append(" (after ");
        what_.append(std::to_string(attempts_));
        what_.append(" attempts)");
    }
}

}  // namespace asiocurl::http

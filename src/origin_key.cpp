#include <asiocurl/detail/origin_key.hpp>

namespace asiocurl::detail {

namespace {
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

void mix(std::uint64_t& hash, char c) noexcept {
    hash ^= static_cast<unsigned char>(c);
    hash *= fnv_prime;
}

char fold(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_folded(std::string_view text, std::string_view lower) noexcept {
    if (text.size() != lower.size()) return false;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (fold(text[i]) != lower[i]) return false;
    return true;
}
}  // namespace

std::uint64_t origin_key(std::string_view url) noexcept {
    // curl, like a browser's address bar, reads "host/path" without a scheme as http.
    std::string_view scheme = "http";
    if (const auto colon = url.find("://"); colon != std::string_view::npos) {
        scheme = url.substr(0, colon);
        url.remove_prefix(colon + 3);
    }
    std::string_view authority = url.substr(0, url.find_first_of("/?#"));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    std::string_view host = authority, port;
    if (!authority.empty() && authority.front() == '[') {  // an IPv6 literal: its colons are not the port's
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return 0;
        host = authority.substr(0, close + 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host.empty()) return 0;
    if (port.empty()) port = equals_folded(scheme, "https") ? "443" : "80";
    std::uint64_t hash = fnv_offset;
    for (char c : host)
        mix(hash, fold(c));
    mix(hash, ':');
    for (char c : port)
        mix(hash, c);
    return hash == 0 ? 1 : hash;
}

}  // namespace asiocurl::detail

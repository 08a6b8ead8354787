// A request's checks and its curl options (the http layer's half of an exchange's setup), and what curl knows
// at the end.
#include <asiocurl/easy.hpp>
#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/detail/connection_options.hpp>
#include <asiocurl/http/detail/exchange.hpp>
#include <asiocurl/http/detail/request_options.hpp>
#include <asiocurl/http/url.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace asiocurl::http::detail {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// CR or LF would end the header (or the request line) early and let the rest be read as the attacker's
// own header; NUL would cut curl's C string short.
bool has_line_break(std::string_view text) {
    // libc's memchr, once per character looked for: vector compares, where a loop over the characters costs
    // ~6 instructions each (every URL and header value of every request is checked).
    // An empty view may hold a null pointer, which memchr must not be given (the fuzzer found it).
    if (text.empty()) return false;
    return std::memchr(text.data(), '\r', text.size()) || std::memchr(text.data(), '\n', text.size()) ||
           std::memchr(text.data(), '\0', text.size());
}

// RFC 9110 5.6.2: visible ASCII but the separators. A table: this runs on every method and header name.
constexpr std::array<bool, 256> token_characters = [] {
    std::array<bool, 256> table{};
    constexpr std::string_view separators = "()<>@,;:\\\"/[]?={} \t";
    for (unsigned c = 33; c < 127; ++c)
        table[c] = separators.find(static_cast<char>(c)) == std::string_view::npos;
    return table;
}();

bool is_token(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return token_characters[static_cast<unsigned char>(c)];
    });
}

// Hop-by-hop headers and those curl derives itself: a request forwarded from a Beast server must not carry
// the client's connection management, framing or Host to the upstream.
bool is_managed_by_curl(std::string_view name) {
    static constexpr std::array<std::string_view, 10> managed = {
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
        "te",   "trailer",        "proxy-connection",  "expect"};
    return std::any_of(managed.begin(), managed.end(), [&](std::string_view m) { return iequals(m, name); });
}

// RFC 3986 3.1: a scheme's characters (any of them first, as before), as a table.
constexpr std::array<bool, 256> scheme_characters = [] {
    std::array<bool, 256> table{};
    for (unsigned c = 0; c < 256; ++c)
        table[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                   c == '-' || c == '.';
    return table;
}();

// "scheme://": one pass over the scheme alone, not a search of the whole target for "://" (this runs on every
// request).
bool is_absolute_url(std::string_view target) {
    std::size_t at = 0;
    while (at < target.size() && scheme_characters[static_cast<unsigned char>(target[at])])
        ++at;
    return at > 0 && target.substr(at, 3) == "://";
}

long curl_http_version(http_version v) {
    switch (v) {
        case http_version::http1_1:
            return CURL_HTTP_VERSION_1_1;
        case http_version::http2_tls:
            return CURL_HTTP_VERSION_2TLS;
        case http_version::http2_prior_knowledge:
            return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
        case http_version::any:
            break;
    }
    return CURL_HTTP_VERSION_2TLS;
}

error_code result(CURLcode code) {
    return code == CURLE_OK ? error_code{} : make_error_code(code);
}

// A string option, when set (after curl_easy_reset every one is unset, which is what an empty one means).
CURLcode set_text(CURL* handle, CURLoption option, const std::string& value) {
    return value.empty() ? CURLE_OK : curl_easy_setopt(handle, option, value.c_str());
}

}  // namespace

error_code build_url(const request_view& request, const options& opts, std::string& url) {
    url.clear();
    if (is_absolute_url(request.target))
        url.assign(request.target);
    else if (!opts.base_url.empty()) {
        url = opts.base_url;
        if (url.back() == '/' && request.target.starts_with('/')) url.pop_back();
        url += request.target;
    } else
        return errc::no_url;
    // A token has no CR, LF or NUL in it.
    if (has_line_break(url) || !is_token(request.method)) return errc::header_injection;
    return {};
}

std::string url_of(std::string_view target, std::string_view base_url) {
    if (target.find("://") != std::string_view::npos || base_url.empty()) return std::string(target);
    std::string url(base_url);
    if (!url.empty() && url.back() == '/' && target.starts_with('/')) url.pop_back();
    url.append(target);
    return url;
}

request_view& scratch_request_view() {
    thread_local request_view view;
    return view;
}

namespace {

// curl's own mapping of a URL parser's refusal (Curl_uc_to_curlcode), so that a URL refused here fails as
// it would have inside the transfer.
CURLcode url_refusal(CURLUcode uc) {
    switch (uc) {
        case CURLUE_UNSUPPORTED_SCHEME:
            return CURLE_UNSUPPORTED_PROTOCOL;
        case CURLUE_OUT_OF_MEMORY:
            return CURLE_OUT_OF_MEMORY;
        case CURLUE_USER_NOT_ALLOWED:
            return CURLE_LOGIN_DENIED;
        default:
            return CURLE_URL_MALFORMAT;
    }
}

// The URL on the handle: parsed once into the handle's CURLU when `parsed` is given, and set again only when
// it changes (curl duplicates a CURLU per transfer instead of parsing and normalising a string, ~10,000
// instructions on 7.88). The flags are the ones curl parses a CURLOPT_URL string with.
CURLcode set_url(CURL* handle, const std::string& url, asiocurl::detail::easy_state* parsed, bool as_string) {
    if (!parsed || as_string) {
        // A CURLU set before would take precedence over the string.
        if (parsed && !parsed->parsed_url_text.empty()) {
            curl_easy_setopt(handle, CURLOPT_CURLU, static_cast<CURLU*>(nullptr));
            parsed->parsed_url_text.clear();
        }
        return curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
    }
    if (!parsed->parsed_url_text.empty() && parsed->parsed_url_text == url) return CURLE_OK;
    parsed->parsed_url_text.clear();
    if (!parsed->parsed_url) parsed->parsed_url.reset(curl_url());
    if (!parsed->parsed_url) return CURLE_OUT_OF_MEMORY;
    // A CURLU that holds a URL reads the next one relative to it (curl_url_set: "the new URL can be relative
    // to the previous"): a scheme-less "host/path" would be appended to the last fetch's path. Cleared, it is
    // parsed as it would be on a fresh handle.
    curl_url_set(parsed->parsed_url.get(), CURLUPART_URL, nullptr, 0);
    if (const CURLUcode uc = curl_url_set(parsed->parsed_url.get(), CURLUPART_URL, url.c_str(),
                                          CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME)) {
        // curl's own words for it (8.x: failf in parseurlandfillconn), where the fetch reports its detail.
        // And where: the URL itself is left out (it may hold a credential), its offset is not.
        if (const auto position = malformed_url_position(url))
            std::snprintf(parsed->error_buffer, sizeof parsed->error_buffer,
                          "URL rejected: %s (at offset %zu)", curl_url_strerror(uc), *position);
        else
            std::snprintf(parsed->error_buffer, sizeof parsed->error_buffer, "URL rejected: %s",
                          curl_url_strerror(uc));
        return url_refusal(uc);
    }
    // 7.88 keeps the previous CURLOPT_URL as the transfer's URL while one is set: none, so that the URL is
    // taken from the CURLU (curl_url_get), as 8.x always does.
    CURLcode code = curl_easy_setopt(handle, CURLOPT_URL, static_cast<const char*>(nullptr));
    if (code == CURLE_OK) code = curl_easy_setopt(handle, CURLOPT_CURLU, parsed->parsed_url.get());
    if (code == CURLE_OK) parsed->parsed_url_text = url;
    return code;
}

// The request's URL (in `url`) and header lines; the URL set on `handle`.
error_code set_target(CURL* handle, const request_view& request, const options& opts, curl_slist*& headers,
                      std::string& url, asiocurl::detail::easy_state* parsed) {
    // Reused, so that a fetch in steady state builds its URL without an allocation.
    thread_local std::string line;
    if (auto ec = build_url(request, opts, url)) return ec;
    for (const auto& [name, value] : request.fields) {
        if (!is_token(name) || has_line_break(value)) return errc::header_injection;
        if (is_managed_by_curl(name)) continue;
        // curl writes a multipart body's Content-Type itself: only it knows the boundary.
        if (request.form && iequals(name, "content-type")) continue;
        // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
        line.assign(name);
        line += value.empty() ? ";" : ": ";
        line += value;
        curl_slist* longer = curl_slist_append(headers, line.c_str());
        if (!longer) return make_error_code(CURLE_OUT_OF_MEMORY);
        headers = longer;
    }
    // curl would otherwise hold a body back for up to a second waiting for "100 Continue".
    // Not with AWS SigV4: curl 7.88 signs every header entry, this removal too, which is then never sent.
    if ((request.has_body || request.form) &&
        !(opts.auth && opts.auth->scheme == credentials::kind::aws_sigv4))
        headers = curl_slist_append(headers, "Expect:");
    // customize may set CURLOPT_URL itself, which a CURLU would override.
    CURLcode code = set_url(handle, url, parsed, static_cast<bool>(opts.customize));
    // A handle comes to an exchange with no header list (the last one's end took its own back).
    if (code == CURLE_OK && headers) code = curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
    return result(code);
}

}  // namespace

error_code apply_request_target(CURL* handle, const request_view& request, const options& opts,
                                curl_slist*& headers, asiocurl::detail::easy_state* parsed) {
    thread_local std::string url;
    return set_target(handle, request, opts, headers, url, parsed);
}

error_code apply_request_options(CURL* handle, const request_view& request, const options& opts,
                                 curl_slist*& headers, asiocurl::detail::easy_state* parsed) {
    thread_local std::string url;
    if (auto ec = set_target(handle, request, opts, headers, url, parsed)) return ec;
    // Only what differs from curl_easy_reset's defaults is set (the handle comes reset from the idle pool, or
    // fresh), with curl_easy_setopt itself: the types are known here, so easy::set's checks are not needed.
    CURLcode code = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
        if (code == CURLE_OK) code = curl_easy_setopt(handle, option, value);
    };
    set(CURLOPT_PROTOCOLS_STR, opts.allowed_protocols.c_str());
    set(CURLOPT_REDIR_PROTOCOLS_STR, opts.allowed_protocols.c_str());
    if (request.has_body) {
        set(CURLOPT_POST, 1L);
        set(CURLOPT_POSTFIELDSIZE_LARGE,
            request.body_size ? static_cast<curl_off_t>(*request.body_size) : curl_off_t{-1});
        if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, std::string(request.method).c_str());
    } else if (request.method == "HEAD") {
        set(CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
        set(CURLOPT_CUSTOMREQUEST, std::string(request.method).c_str());
    }
    if (opts.timeout.count() > 0) set(CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()));
    if (opts.connect_timeout.count() > 0)
        set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    if (opts.follow_redirects) {
        set(CURLOPT_FOLLOWLOCATION, 1L);
        set(CURLOPT_MAXREDIRS, opts.max_redirects);
    }
    if (!opts.tls.verify_peer) set(CURLOPT_SSL_VERIFYPEER, 0L);
    if (!opts.tls.verify_host) set(CURLOPT_SSL_VERIFYHOST, 0L);
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_CAINFO, opts.tls.ca_file);
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_CAPATH, opts.tls.ca_path);
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_SSLCERT, opts.tls.client_certificate);
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_SSLKEY, opts.tls.client_key);
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_PINNEDPUBLICKEY, opts.tls.pinned_public_key);
    set(CURLOPT_SSLVERSION, opts.tls.min_version);
    // An empty proxy string makes curl ignore http_proxy & co.: a fetch goes where its options say.
    set(CURLOPT_PROXY, opts.proxy.c_str());
    if (opts.proxy_tunnel) set(CURLOPT_HTTPPROXYTUNNEL, 1L);
    set(CURLOPT_HTTP_VERSION, curl_http_version(opts.version));
    // PIPEWAIT holds every other transfer to the host until the first connection shows whether it
    // multiplexes: right for HTTP/2, but over plain HTTP/1.1 that is only known from the first response, so
    // one stalled fetch would hold back the rest. Only where HTTP/2 is possible: TLS (ALPN) or h2c.
    const bool may_multiplex = opts.version == http_version::http2_prior_knowledge ||
                               (opts.version != http_version::http1_1 && url.starts_with("https://"));
    if (may_multiplex) set(CURLOPT_PIPEWAIT, 1L);
    if (opts.decompress) set(CURLOPT_ACCEPT_ENCODING, "");
    if (code == CURLE_OK) code = set_text(handle, CURLOPT_USERAGENT, opts.user_agent);
    if (request.size_limited && opts.max_response_size > 0)  // refused up front when the server announces it
        set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(opts.max_response_size));
    // A proxy's "200 Connection established" is not the response anybody waits for.
    set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    // One share a handle (the exchange checked that a jar and options::share agree).
    if (const auto& used = share_of(opts)) {
        set(CURLOPT_SHARE, used->native_handle());
        // "" switches the cookie engine on, reading no file.
        if (used->holds(CURL_LOCK_DATA_COOKIE)) set(CURLOPT_COOKIEFILE, "");
    }
    return result(code);
}

head_line parse_head_line(std::string_view raw) noexcept {
    head_line out;
    std::string_view line = raw;
    // Every line curl hands over ends in CRLF (HTTP/1) or LF; stray ones past that are trimmed too.
    if (line.ends_with("\r\n")) line.remove_suffix(2);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    if (line.empty()) {
        out.what = head_line::kind::end;
        return out;
    }
    if (line.starts_with("HTTP/")) {
        out.what = head_line::kind::status;
        const auto space = line.find(' ');
        const std::string_view version = line.substr(5, space == std::string_view::npos ? 0 : space - 5);
        if (version == "1.0")
            out.version = 10;
        else if (version == "2" || version == "2.0")
            out.version = 20;
        else if (version == "3")
            out.version = 30;
        if (space != std::string_view::npos) {
            const std::string_view rest = line.substr(space + 1);
            // RFC 9110 15: exactly three digits, the first 1-5 in use but any of 1-9 valid; "0200" or
            // "2000" is not a status (the fuzzer found "0200" read as 20), and the caller sees 0.
            const std::string_view code = rest.substr(0, 3);
            const bool digits = code.size() == 3 && std::all_of(code.begin(), code.end(),
                                                                [](char c) { return c >= '0' && c <= '9'; });
            if (digits && code[0] != '0' && (rest.size() == 3 || rest[3] == ' '))
                out.status =
                    static_cast<unsigned>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
            const auto reason_start = rest.find(' ');
            if (reason_start != std::string_view::npos) out.reason = rest.substr(reason_start + 1);
        }
        return out;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return out;  // junk curl let by
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    out.what = head_line::kind::field;
    out.name = line.substr(0, colon);
    out.value = value;
    return out;
}

boost::beast::http::field field_of(std::string_view name) noexcept {
    // Direct-mapped by length and the first and last characters: a miss costs Beast's lookup and an entry
    // replaced, never a wrong field (the whole name is compared). Constant-initialised: no guard per call.
    struct entry {
        std::uint8_t length = 0;
        char text[31] = {};
        boost::beast::http::field value = boost::beast::http::field::unknown;
    };
    static thread_local std::array<entry, 64> seen{};
    if (name.empty() || name.size() > sizeof(entry::text)) return boost::beast::http::string_to_field(name);
    const std::size_t slot = (name.size() * 31 + static_cast<unsigned char>(name.front()) +
                              static_cast<unsigned char>(name.back()) * 7) %
                             seen.size();
    entry& e = seen[slot];
    if (e.length == name.size() && std::memcmp(e.text, name.data(), name.size()) == 0) return e.value;
    const boost::beast::http::field value = boost::beast::http::string_to_field(name);
    e.length = static_cast<std::uint8_t>(name.size());
    std::memcpy(e.text, name.data(), name.size());
    e.value = value;
    return value;
}

bool is_followed_redirect(unsigned status, bool has_location, bool follow_redirects) noexcept {
    if (!follow_redirects || !has_location) return false;
    switch (status) {
        case 301:
        case 302:
        case 303:
        case 307:
        case 308:
            return true;
        default:
            return false;
    }
}

bool reusable_setup::applies(const request_view& request, const options& opts) noexcept {
    return !opts.customize && !opts.cookies && !opts.on_progress && !request.has_body && !request.form &&
           !(opts.share && opts.share->holds(CURL_LOCK_DATA_COOKIE)) && !has_connection_options(opts);
}

namespace {
// Whether the request's URL is https (which decides PIPEWAIT), as build_url() would make it.
bool goes_to_https(const request_view& request, const options& o) {
    return is_absolute_url(request.target) ? request.target.starts_with("https://")
                                           : o.base_url.starts_with("https://");
}
}  // namespace

reusable_setup::reusable_setup(const request_view& request, const options& o)
    : method(request.method), https(goes_to_https(request, o)) {
    opts.allowed_protocols = o.allowed_protocols;
    opts.timeout = o.timeout;
    opts.connect_timeout = o.connect_timeout;
    opts.follow_redirects = o.follow_redirects;
    opts.max_redirects = o.max_redirects;
    opts.tls = o.tls;
    opts.proxy = o.proxy;
    opts.proxy_tunnel = o.proxy_tunnel;
    opts.version = o.version;
    opts.decompress = o.decompress;
    opts.user_agent = o.user_agent;
    opts.share = o.share;  // also keeps it alive while the idle handle holds it as CURLOPT_SHARE
    opts.max_response_size = request.size_limited ? o.max_response_size : 0;
}

// Every plain value apply_request_options() turns into an option, and what decides PIPEWAIT (the scheme).
bool reusable_setup::matches(const request_view& request, const options& o) const noexcept {
    const auto& t = opts.tls;
    return request.method == method && goes_to_https(request, o) == https &&
           o.allowed_protocols == opts.allowed_protocols && o.timeout == opts.timeout &&
           o.connect_timeout == opts.connect_timeout && o.follow_redirects == opts.follow_redirects &&
           o.max_redirects == opts.max_redirects && o.tls.verify_peer == t.verify_peer &&
           o.tls.verify_host == t.verify_host && o.tls.ca_file == t.ca_file && o.tls.ca_path == t.ca_path &&
           o.tls.client_certificate == t.client_certificate && o.tls.client_key == t.client_key &&
           o.tls.pinned_public_key == t.pinned_public_key && o.tls.min_version == t.min_version &&
           o.proxy == opts.proxy && o.proxy_tunnel == opts.proxy_tunnel && o.version == opts.version &&
           o.decompress == opts.decompress && o.user_agent == opts.user_agent && o.share == opts.share &&
           (request.size_limited ? o.max_response_size : 0) == opts.max_response_size;
}

error_code size_limited_result(error_code ec, std::size_t max_response_size, bool refused_by_sink) {
    // curl refuses a length announced over CURLOPT_MAXFILESIZE_LARGE before the body starts, and since 8.4
    // also stops a body that grows past it (it then writes exactly the limit, so the write callback never
    // sees more): both are CURLE_FILESIZE_EXCEEDED, which only the limit set here can cause.
    if (refused_by_sink || (max_response_size > 0 && ec == make_error_code(CURLE_FILESIZE_EXCEEDED)))
        return errc::response_too_large;
    return ec;
}

// ---- what curl knows at the end ----
namespace {

std::chrono::microseconds micros(CURL* handle, CURLINFO what) {
    curl_off_t value = 0;
    curl_easy_getinfo(handle, what, &value);
    return std::chrono::microseconds(value);
}

// Infos that curl added after 7.88, by number so that a build against 7.88's headers reads them too when it
// runs on a newer libcurl; asked for only when the running one has them.
constexpr auto info_xfer_id = static_cast<CURLINFO>(CURLINFO_OFF_T + 63);     // CURLINFO_XFER_ID, 8.2
constexpr auto info_conn_id = static_cast<CURLINFO>(CURLINFO_OFF_T + 64);     // CURLINFO_CONN_ID, 8.2
constexpr auto info_queue_time = static_cast<CURLINFO>(CURLINFO_OFF_T + 65);  // CURLINFO_QUEUE_TIME_T, 8.6
#if LIBCURL_VERSION_NUM >= 0x080600
static_assert(CURLINFO_XFER_ID == info_xfer_id && CURLINFO_CONN_ID == info_conn_id &&
              CURLINFO_QUEUE_TIME_T == info_queue_time);
#endif

unsigned running_curl_version() {
    static const unsigned version = curl_version_info(CURLVERSION_NOW)->version_num;
    return version;
}

// curl answers -1 for an id it has not assigned (no connection was made).
std::optional<std::int64_t> curl_id(CURL* handle, CURLINFO what) {
    curl_off_t id = -1;
    if (curl_easy_getinfo(handle, what, &id) != CURLE_OK || id < 0) return std::nullopt;
    return static_cast<std::int64_t>(id);
}

}  // namespace

void collect_info(CURL* handle, const char* error_message, const known_info& known, transfer_info& info) {
    info.error_message = error_message;
    char* url = nullptr;
    curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &url);
    if (url) info.effective_url = url;
    info.redirect_count = 0;
    if (known.redirects_followed) curl_easy_getinfo(handle, CURLINFO_REDIRECT_COUNT, &info.redirect_count);
    info.times.resolve = micros(handle, CURLINFO_NAMELOOKUP_TIME_T);
    info.times.connect = micros(handle, CURLINFO_CONNECT_TIME_T);
    info.times.tls = micros(handle, CURLINFO_APPCONNECT_TIME_T);
    info.times.first_byte = micros(handle, CURLINFO_STARTTRANSFER_TIME_T);
    info.times.total = micros(handle, CURLINFO_TOTAL_TIME_T);
    curl_off_t sent = 0, received = 0;
    if (known.body_sent) curl_easy_getinfo(handle, CURLINFO_SIZE_UPLOAD_T, &sent);
    curl_easy_getinfo(handle, CURLINFO_SIZE_DOWNLOAD_T, &received);
    info.bytes_sent = static_cast<std::uint64_t>(sent);
    info.bytes_received = static_cast<std::uint64_t>(received);
    long connects = 0;
    curl_easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &connects);
    info.connection_reused = connects == 0;
    if (running_curl_version() >= 0x080200) {
        info.connection_id = curl_id(handle, info_conn_id);
        info.transfer_id = curl_id(handle, info_xfer_id);
    }
    if (running_curl_version() >= 0x080600) info.times.queue = micros(handle, info_queue_time);
    // The status line's, as curl's CURLINFO_HTTP_VERSION is (0 when none arrived).
    info.http_version = known.http_version;
    // Only where a client waits for it (RFC 9110 10.2.3: with 503, and 429 by RFC 6585): one getinfo less
    // on every other response.
    info.request_sent = true;
    if (known.failed) {
        long request_bytes = 0;
        curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &request_bytes);
        info.request_sent = request_bytes > 0;
    }
    info.retry_after.reset();
    if (known.status == 429 || known.status == 503) {
        curl_off_t seconds = 0;
        // A year at the most: a server's number, later turned into milliseconds and added to clocks.
        if (curl_easy_getinfo(handle, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0)
            info.retry_after = std::chrono::seconds(std::min<curl_off_t>(seconds, 365L * 24 * 3600));
    }
}

}  // namespace asiocurl::http::detail

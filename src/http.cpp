// The non-template half of http::async_fetch: options, request headers, the header callback, transfer info;
// and the cookie jar.
#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/detail/transfer.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <stdexcept>

namespace asiocurl::http {
namespace detail {
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
    return text.find_first_of("\r\n", 0, 3) != std::string_view::npos;
}

bool is_token(std::string_view name) {
    static constexpr std::string_view separators = "()<>@,;:\\\"/[]?={} \t";
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u > 32 && u < 127 && separators.find(c) == std::string_view::npos;
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

bool is_absolute_url(std::string_view target) {
    const auto scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
    return std::all_of(target.begin(), target.begin() + static_cast<std::ptrdiff_t>(scheme_end), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
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

std::chrono::microseconds micros(const easy& handle, CURLINFO what) {
    error_code ignored;
    return std::chrono::microseconds(handle.info<curl_off_t>(what, ignored));
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
std::optional<std::int64_t> curl_id(const easy& handle, CURLINFO what) {
    error_code ec;
    const curl_off_t id = handle.info<curl_off_t>(what, ec);
    if (ec || id < 0) return std::nullopt;
    return static_cast<std::int64_t>(id);
}

void set_text(easy& handle, CURLoption option, const std::string& value, error_code& ec) {
    if (!ec && !value.empty()) handle.set(option, value, ec);
}

}  // namespace

size_t on_header_line(char* data, size_t size, size_t count, void* head_ptr) {
    auto& head = *static_cast<response_head*>(head_ptr);
    const size_t length = size * count;
    std::string_view line(data, length);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    if (line.starts_with("HTTP/")) {
        // A new response begins: a redirect being followed, or a 1xx before the final one.
        head = response_head{};
        const auto space = line.find(' ');
        const std::string_view version = line.substr(5, space == std::string_view::npos ? 0 : space - 5);
        if (version == "1.0")
            head.version = 10;
        else if (version == "2" || version == "2.0")
            head.version = 20;
        else if (version == "3")
            head.version = 30;
        if (space != std::string_view::npos) {
            std::string_view rest = line.substr(space + 1);
            std::from_chars(rest.data(), rest.data() + std::min<size_t>(rest.size(), 3), head.status);
            const auto reason_start = rest.find(' ');
            if (reason_start != std::string_view::npos) head.reason = rest.substr(reason_start + 1);
        }
        return length;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return length;  // the blank line, or junk curl let by
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
    head.fields.emplace_back(line.substr(0, colon), value);
    return length;
}

error_code prepare(easy& handle, const request_view& request, const options& opts, header_list& headers,
                   response_head& head) {
    std::string url;
    if (is_absolute_url(request.target))
        url = request.target;
    else if (!opts.base_url.empty()) {
        url = opts.base_url;
        if (!url.empty() && url.back() == '/' && request.target.starts_with('/')) url.pop_back();
        url += request.target;
    } else
        return errc::no_url;
    if (has_line_break(url) || has_line_break(request.method) || !is_token(request.method))
        return errc::header_injection;

    for (const auto& [name, value] : request.fields) {
        if (!is_token(name) || has_line_break(value)) return errc::header_injection;
        if (is_managed_by_curl(name)) continue;
        // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
        std::string line(name);
        line += value.empty() ? ";" : ": ";
        line += value;
        curl_slist* longer = curl_slist_append(headers.list, line.c_str());
        if (!longer) return make_error_code(CURLE_OUT_OF_MEMORY);
        headers.list = longer;
    }
    // curl would otherwise hold a body back for up to a second waiting for "100 Continue".
    if (request.has_body) headers.list = curl_slist_append(headers.list, "Expect:");

    error_code ec;
    handle.set(CURLOPT_URL, url, ec);
    if (!ec) handle.set(CURLOPT_PROTOCOLS_STR, opts.allowed_protocols, ec);
    if (!ec) handle.set(CURLOPT_REDIR_PROTOCOLS_STR, opts.allowed_protocols, ec);
    if (!ec && headers.list) handle.set(CURLOPT_HTTPHEADER, headers.list, ec);
    if (!ec) handle.set(CURLOPT_HEADERFUNCTION, &on_header_line, ec);
    if (!ec) handle.set(CURLOPT_HEADERDATA, static_cast<void*>(&head), ec);

    if (!ec) {
        if (request.has_body) {
            handle.set(CURLOPT_POST, 1L, ec);
            const curl_off_t size = request.body_size ? static_cast<curl_off_t>(*request.body_size) : -1;
            if (!ec) handle.set(CURLOPT_POSTFIELDSIZE_LARGE, size, ec);
            if (!ec && request.method != "POST")
                handle.set(CURLOPT_CUSTOMREQUEST, std::string(request.method), ec);
        } else if (request.method == "HEAD") {
            handle.set(CURLOPT_NOBODY, 1L, ec);
        } else if (request.method != "GET") {
            handle.set(CURLOPT_CUSTOMREQUEST, std::string(request.method), ec);
        }
    }

    if (!ec && opts.timeout.count() > 0)
        handle.set(CURLOPT_TIMEOUT_MS, static_cast<long>(opts.timeout.count()), ec);
    if (!ec && opts.connect_timeout.count() > 0)
        handle.set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()), ec);
    if (!ec) handle.set(CURLOPT_FOLLOWLOCATION, opts.follow_redirects, ec);
    if (!ec) handle.set(CURLOPT_MAXREDIRS, opts.max_redirects, ec);

    if (!ec) handle.set(CURLOPT_SSL_VERIFYPEER, opts.tls.verify_peer, ec);
    if (!ec) handle.set(CURLOPT_SSL_VERIFYHOST, opts.tls.verify_host ? 2L : 0L, ec);
    set_text(handle, CURLOPT_CAINFO, opts.tls.ca_file, ec);
    set_text(handle, CURLOPT_CAPATH, opts.tls.ca_path, ec);
    set_text(handle, CURLOPT_SSLCERT, opts.tls.client_certificate, ec);
    set_text(handle, CURLOPT_SSLKEY, opts.tls.client_key, ec);
    set_text(handle, CURLOPT_PINNEDPUBLICKEY, opts.tls.pinned_public_key, ec);
    if (!ec) handle.set(CURLOPT_SSLVERSION, opts.tls.min_version, ec);

    // An empty proxy string makes curl ignore http_proxy & co.: a fetch goes where its options say.
    if (!ec) handle.set(CURLOPT_PROXY, opts.proxy, ec);
    if (!ec && opts.proxy_tunnel) handle.set(CURLOPT_HTTPPROXYTUNNEL, 1L, ec);

    if (!ec) handle.set(CURLOPT_HTTP_VERSION, curl_http_version(opts.version), ec);
    // PIPEWAIT holds every other transfer to the host until the first connection shows whether it
    // multiplexes: right for HTTP/2, but over plain HTTP/1.1 that is only known from the first response, so
    // one stalled fetch would hold back the rest. Only where HTTP/2 is possible: TLS (ALPN) or h2c.
    const bool may_multiplex = opts.version == http_version::http2_prior_knowledge ||
                               (opts.version != http_version::http1_1 && url.starts_with("https://"));
    if (!ec && may_multiplex) handle.set(CURLOPT_PIPEWAIT, 1L, ec);
    if (!ec && opts.decompress) handle.set(CURLOPT_ACCEPT_ENCODING, "", ec);
    set_text(handle, CURLOPT_USERAGENT, opts.user_agent, ec);
    if (!ec && opts.max_response_size > 0)  // refused up front when the server announces the length
        handle.set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(opts.max_response_size), ec);
    if (!ec && opts.cookies) {
        handle.set(CURLOPT_SHARE, opts.cookies->native_handle(), ec);
        if (!ec) handle.set(CURLOPT_COOKIEFILE, "", ec);  // "" switches the cookie engine on, reading no file
    }
    if (!ec && opts.customize) opts.customize(handle);
    return ec;
}

void collect_info(const easy& handle, transfer_info& info) {
    error_code ignored;
    info.error_message = handle.error_message();
    info.effective_url = handle.info<std::string>(CURLINFO_EFFECTIVE_URL, ignored);
    info.redirect_count = handle.info<long>(CURLINFO_REDIRECT_COUNT, ignored);
    info.times.resolve = micros(handle, CURLINFO_NAMELOOKUP_TIME_T);
    info.times.connect = micros(handle, CURLINFO_CONNECT_TIME_T);
    info.times.tls = micros(handle, CURLINFO_APPCONNECT_TIME_T);
    info.times.first_byte = micros(handle, CURLINFO_STARTTRANSFER_TIME_T);
    info.times.total = micros(handle, CURLINFO_TOTAL_TIME_T);
    info.bytes_sent = static_cast<std::uint64_t>(handle.info<curl_off_t>(CURLINFO_SIZE_UPLOAD_T, ignored));
    info.bytes_received =
        static_cast<std::uint64_t>(handle.info<curl_off_t>(CURLINFO_SIZE_DOWNLOAD_T, ignored));
    info.connection_reused = handle.info<long>(CURLINFO_NUM_CONNECTS, ignored) == 0;
    if (running_curl_version() >= 0x080200) {
        info.connection_id = curl_id(handle, info_conn_id);
        info.transfer_id = curl_id(handle, info_xfer_id);
    }
    if (running_curl_version() >= 0x080600) info.times.queue = micros(handle, info_queue_time);
    switch (handle.info<long>(CURLINFO_HTTP_VERSION, ignored)) {
        case CURL_HTTP_VERSION_1_0:
            info.http_version = 10;
            break;
        case CURL_HTTP_VERSION_1_1:
            info.http_version = 11;
            break;
        case CURL_HTTP_VERSION_2_0:
            info.http_version = 20;
            break;
        case CURL_HTTP_VERSION_3:
            info.http_version = 30;
            break;
        default:
            info.http_version = 0;
            break;
    }
}

error_code size_limited_result(error_code ec, const options& opts, bool refused_by_writer) {
    // curl refuses a length announced over CURLOPT_MAXFILESIZE_LARGE before the body starts, and since 8.4
    // also stops a body that grows past it (it then writes exactly the limit, so the write callback never
    // sees more): both are CURLE_FILESIZE_EXCEEDED, which only the limit set in prepare() can cause.
    if (refused_by_writer || (opts.max_response_size > 0 && ec == make_error_code(CURLE_FILESIZE_EXCEEDED)))
        return errc::response_too_large;
    return ec;
}

}  // namespace detail

cookie_jar::cookie_jar() : share_(curl_share_init()) {
    if (!share_) throw std::bad_alloc();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &cookie_jar::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &cookie_jar::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
}

cookie_jar::~cookie_jar() {
    curl_share_cleanup(share_);
}

void cookie_jar::lock(CURL*, curl_lock_data, curl_lock_access, void* self) {
    static_cast<cookie_jar*>(self)->mutex_.lock();
}
void cookie_jar::unlock(CURL*, curl_lock_data, void* self) {
    static_cast<cookie_jar*>(self)->mutex_.unlock();
}

// The share is only reachable through an easy handle: a scratch one reads and writes it.
void cookie_jar::apply(const char* command_or_line) const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, share_);
    scratch.set(CURLOPT_COOKIELIST, command_or_line);
}

std::vector<std::string> cookie_jar::cookies() const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, share_);
    curl_slist* list = scratch.info<curl_slist*>(CURLINFO_COOKIELIST);
    std::vector<std::string> out;
    for (curl_slist* item = list; item; item = item->next)
        out.emplace_back(item->data);
    curl_slist_free_all(list);
    return out;
}

void cookie_jar::add(std::string_view line) {
    if (line.find_first_of("\r\n", 0, 3) != std::string_view::npos)
        throw system_error(errc::header_injection, "asiocurl::http::cookie_jar::add");
    apply(std::string(line).c_str());
}

void cookie_jar::clear() {
    apply("ALL");
}

}  // namespace asiocurl::http

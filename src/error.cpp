#include <asiocurl/error.hpp>

#include <string>

namespace asiocurl {
namespace {

template <class Code, const char* (*Strerror)(Code)>
class curl_enum_category final : public boost::system::error_category {
public:
    explicit curl_enum_category(const char* name) noexcept : name_(name) {}
    const char* name() const noexcept override { return name_; }
    std::string message(int value) const override { return Strerror(static_cast<Code>(value)); }
    char const* message(int value, char* buffer, std::size_t size) const noexcept override {
        // curl's strerror functions return static strings, so the noexcept overload can skip the copy.
        (void)buffer;
        (void)size;
        return Strerror(static_cast<Code>(value));
    }

private:
    const char* name_;
};

class library_error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "asiocurl"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
            case errc::easy_in_use:
                return "the easy handle is already running a transfer";
            case errc::shut_down:
                return "the multi has been shut down";
            case errc::socket_registration:
                return "a socket could not be registered with the reactor";
            case errc::invalid_argument:
                return "invalid argument";
            case errc::wrong_option_type:
                return "wrong value type for this curl option";
            case errc::empty_handle:
                return "the handle is empty (moved from)";
            case errc::header_injection:
                return "CR, LF or NUL in a URL or header, or an invalid header name";
            case errc::no_url:
                return "the request target is not a URL and options::base_url is empty";
            case errc::response_too_large:
                return "the response is larger than options::max_response_size";
            case errc::option_owned_by_library:
                return "the library sets this curl option itself (CURLOPT_PRIVATE, CURLOPT_ERRORBUFFER, the "
                       "callbacks of an http exchange and their data, CURLOPT_SHARE beside a cookie jar)";
            case errc::upload_size_mismatch:
                return "the streamed request body is longer or shorter than its declared size";
            case errc::unsafe_share:
                return "curl does not support sharing connections between concurrent threads";
            case errc::middleware_failed:
                return "a middleware of the http client threw an exception";
            case errc::event_too_large:
                return "a server-sent event is larger than the event stream's limit";
            case errc::not_an_event_stream:
                return "the server did not answer with an event stream (200, text/event-stream)";
            case errc::cookie_jar_in_use:
                return "the cookie jar is in use by transfers on another executor (curl does not support "
                       "cookies shared between concurrent threads)";
        }
        return "unknown asiocurl error";
    }
};

// Codes that curl added after 7.88, the oldest supported: by number, so that a library built against 7.88's
// headers still maps them when it runs on a newer libcurl (what a code means is decided by the running one).
constexpr int curle_too_large = 100;     // CURLE_TOO_LARGE (8.6): a header line or other value over its cap
constexpr int curle_ech_required = 101;  // CURLE_ECH_REQUIRED (8.8): Encrypted Client Hello tried, failed
#if LIBCURL_VERSION_NUM >= 0x080800
static_assert(CURLE_TOO_LARGE == curle_too_large && CURLE_ECH_REQUIRED == curle_ech_required);
#endif

bool is_tls_failure(int code) {
    if (code == curle_ech_required) return true;
    switch (static_cast<CURLcode>(code)) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_ENGINE_NOTFOUND:
        case CURLE_SSL_ENGINE_SETFAILED:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_ENGINE_INITFAILED:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_SHUTDOWN_FAILED:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
        case CURLE_USE_SSL_FAILED:
            return true;
        default:
            return false;
    }
}

bool curl_code_matches(int value, condition c) {
    const auto code = static_cast<CURLcode>(value);
    switch (c) {
        case condition::timed_out:
            return code == CURLE_OPERATION_TIMEDOUT;
        case condition::connect_failed:
            return code == CURLE_COULDNT_CONNECT;
        case condition::resolve_failed:
            return code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY;
        case condition::tls_failed:
            return is_tls_failure(value);
        case condition::too_large:
            return code == CURLE_FILESIZE_EXCEEDED || value == curle_too_large;
        case condition::aborted_by_callback:
            return code == CURLE_ABORTED_BY_CALLBACK || code == CURLE_WRITE_ERROR || code == CURLE_READ_ERROR;
        case condition::send_failed:
            return code == CURLE_SEND_ERROR;
        case condition::receive_failed:
            return code == CURLE_RECV_ERROR;
        case condition::partial_body:
            return code == CURLE_PARTIAL_FILE;
        case condition::bad_url:
            return code == CURLE_URL_MALFORMAT;
        case condition::protocol_refused:
            return code == CURLE_UNSUPPORTED_PROTOCOL;
        case condition::too_many_redirects:
            return code == CURLE_TOO_MANY_REDIRECTS;
        case condition::protocol_error:
            return code == CURLE_WEIRD_SERVER_REPLY || code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM ||
                   code == CURLE_BAD_CONTENT_ENCODING;
    }
    return false;
}

class condition_error_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "asiocurl.condition"; }
    std::string message(int value) const override {
        switch (static_cast<condition>(value)) {
            case condition::timed_out:
                return "timed out";
            case condition::connect_failed:
                return "connect failed";
            case condition::resolve_failed:
                return "name resolution failed";
            case condition::tls_failed:
                return "TLS failed";
            case condition::too_large:
                return "too large";
            case condition::aborted_by_callback:
                return "aborted by callback";
            case condition::send_failed:
                return "send failed";
            case condition::receive_failed:
                return "receive failed";
            case condition::partial_body:
                return "partial body";
            case condition::bad_url:
                return "bad URL";
            case condition::protocol_refused:
                return "protocol refused";
            case condition::too_many_redirects:
                return "too many redirects";
            case condition::protocol_error:
                return "protocol error";
        }
        return "unknown condition";
    }
    bool equivalent(const error_code& code, int value) const noexcept override {
        if (code.category() == curl_category())
            return curl_code_matches(code.value(), static_cast<condition>(value));
        if (code.category() == library_category())
            return static_cast<errc>(code.value()) == errc::response_too_large &&
                   static_cast<condition>(value) == condition::too_large;
        return false;
    }
};

}  // namespace

const boost::system::error_category& curl_category() noexcept {
    static const curl_enum_category<CURLcode, &curl_easy_strerror> category{"curl"};
    return category;
}
const boost::system::error_category& multi_category() noexcept {
    static const curl_enum_category<CURLMcode, &curl_multi_strerror> category{"curl.multi"};
    return category;
}
const boost::system::error_category& share_category() noexcept {
    static const curl_enum_category<CURLSHcode, &curl_share_strerror> category{"curl.share"};
    return category;
}
const boost::system::error_category& library_category() noexcept {
    static const library_error_category category;
    return category;
}
const boost::system::error_category& condition_category() noexcept {
    static const condition_error_category category;
    return category;
}

}  // namespace asiocurl

// One HTTP exchange over a handle lent by the multi's idle pool: the request's options, curl's header, write
// and read callbacks with one rule for when the head is complete, and what curl knows at the end.
// Non-template (src/http/exchange.cpp); async_fetch and http::stream are its two faces, each giving it a body
// sink and source by overriding the hooks below.
#ifndef ASIOCURL_HTTP_DETAIL_EXCHANGE_HPP
#define ASIOCURL_HTTP_DETAIL_EXCHANGE_HPP

#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/http/detail/connection_options.hpp>
#include <asiocurl/http/detail/mime_form.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>

#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace asiocurl::http::detail {

class progress_reporter;

// The request as the exchange needs it, whatever its body and fields types.
struct request_view {
    std::string_view method;
    std::string_view target;
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    bool has_body = false;
    std::optional<std::uint64_t> body_size;  // none: chunked
    // options::max_response_size applies (a fetch); a stream's reader bounds memory itself, and a limit meant
    // for whole bodies would cut streams that never end.
    bool size_limited = true;
    // A multipart body (multipart_body): curl sends it from its MIME structure, not through the read
    // callback.
    const multipart* form = nullptr;
};

// The request's method, target and fields as the exchange reads them; its field list is reused by the
// calling thread (no allocation per fetch in steady state).
request_view& scratch_request_view();

template <class Body, class Fields>
request_view& view_of(const boost::beast::http::request<Body, Fields>& request) {
    request_view& view = scratch_request_view();
    view.method = request.method_string();
    view.target = request.target();
    view.fields.clear();
    for (const auto& field : request)
        view.fields.emplace_back(field.name_string(), field.value());
    view.has_body = false;
    view.body_size.reset();
    view.size_limited = true;
    view.form = nullptr;
    return view;
}

class exchange : public asiocurl::detail::transfer_observer {
public:
    exchange() = default;
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    // Sets every option of the exchange on `handle` (lent and reset, or fresh), the callbacks pointing at
    // this object, the progress reports (delivered on `progress_executor`), then options::customize. Refuses
    // before anything is sent CR, LF or NUL in the URL or a header, a header name that is not a token
    // (errc::header_injection), an origin-form target without a base URL (errc::no_url); an error customize
    // throws is returned.
    error_code prepare(asiocurl::detail::easy_state& handle, const request_view& request, const options& opts,
                       boost::asio::any_io_executor progress_executor);

    // transfer_observer: on the multi's executor, with the handle still this exchange's.
    void on_transfer_end(asiocurl::detail::easy_state& state, error_code& ec) noexcept override;
    void on_transfer_abandoned(asiocurl::detail::easy_state& state) noexcept override;

    // The last progress report (`done`), on the operation's executor before its handler runs.
    void report_end_of_progress();

    bool head_complete() const noexcept { return head_complete_; }

protected:
    ~exchange();

    // ---- what the faces provide; all on the multi's executor, inside curl's callbacks ----
    // A new response head begins (the status line of a redirect followed, a 1xx, or the final one): the face
    // forgets the fields of an earlier one.
    virtual void on_status(unsigned version, unsigned status, std::string_view reason) = 0;
    virtual void on_field(std::string_view name, std::string_view value) = 0;
    // The final head is complete (the first body byte, or the transfer's end, comes next).
    virtual void on_final_head() = 0;
    // Body bytes: `size` taken, CURL_WRITEFUNC_PAUSE, or anything else to refuse (ends the transfer).
    virtual std::size_t on_body(const char* data, std::size_t size) = 0;
    // Request body bytes: how many written to `out` (0: the end), CURL_READFUNC_PAUSE or CURL_READFUNC_ABORT.
    virtual std::size_t on_request_body(char* out, std::size_t capacity) = 0;
    // Where what curl knows about the transfer goes, and the transfer's end (on the multi's executor, after
    // that was collected): `ec` may be changed.
    virtual transfer_info& info() noexcept = 0;
    virtual void on_end(error_code& ec) noexcept = 0;

    // For the final head's body reader, as Beast's own parser gives it: the Content-Length curl parsed, so
    // that a string or vector is allocated once instead of doubled from curl's first write. Only a hint:
    // capped at 16 MiB (a length is only the server's word; curl has refused one beyond
    // max_response_size); none without a length, or for a body that cannot come (HEAD, 204, 304).
    std::optional<std::uint64_t> announced_body_length() const noexcept;
    // The handle while it is this exchange's (between prepare() and the transfer's end).
    asiocurl::detail::easy_state* handle() const noexcept { return handle_; }

private:
    static exchange* running(void* state) noexcept;
    static std::size_t header_callback(char* data, std::size_t size, std::size_t count, void* state);
    static std::size_t write_callback(char* data, std::size_t size, std::size_t count, void* state);
    static std::size_t read_callback(char* data, std::size_t size, std::size_t count, void* state);
    void complete_head();
    // Takes off the handle, and frees, what it points at that is this exchange's (header, resolve and
    // connect-to lists, the MIME structure): at the transfer's end, or when it will not run.
    void let_go_of(asiocurl::detail::easy_state& state) noexcept;
    error_code set_up(asiocurl::detail::easy_state& handle, const request_view& request, const options& opts,
                      boost::asio::any_io_executor progress_executor);
    bool challenge_answered() noexcept;

    asiocurl::detail::easy_state* handle_ = nullptr;  // null once the transfer ended
    curl_slist* headers_ = nullptr;
    connection_lists lists_;
    std::unique_ptr<mime_form> form_;
    std::shared_ptr<progress_reporter> progress_;
    unsigned status_ = 0;
    unsigned version_ = 0;   // of the current head's status line
    bool location_ = false;  // the current head has a Location field
    bool challenged_ = false;
    bool stale_ = false;  // the challenge says stale=true  // the current head has a WWW-Authenticate
                          // (Proxy-Authenticate for a 407) field
    unsigned char server_challenges_ = 0, proxy_challenges_ = 0;  // Digest challenges curl answers itself
    bool has_body_ = false;                                       // the request's
    bool follow_redirects_ = false;
    bool customized_ = false;  // options::customize ran: it may have set any option (redirects, a body)
    bool no_body_ = false;     // a HEAD
    bool head_complete_ = false;
};

// The status line's reason on a response head, stored only when it is not the standard one, which Beast's
// reason() gives back for an empty one: an allocation (and a free) less on nearly every response. Stored
// empty otherwise, which also forgets an earlier head's (a redirect's "Found").
template <class Fields>
void set_reason(boost::beast::http::header<false, Fields>& head, std::string_view reason) {
    if (reason == boost::beast::http::obsolete_reason(head.result())) reason = {};
    head.reason(reason);
}

// The field a name is, for Beast's insert: Beast's own lookup (string_to_field) hashes the name without
// regard to case and compares it to its table, ~110 instructions; a server spells its fields the same on
// every response, so a name seen before on this thread is found by an exact comparison.
boost::beast::http::field field_of(std::string_view name) noexcept;

// A field of a response head, in arrival order (Beast keeps repeated fields together). A Fields type without
// basic_fields' insert(field, name, value) is given the name alone.
template <class Fields>
void add_field(Fields& fields, std::string_view name, std::string_view value) {
    if constexpr (requires { fields.insert(boost::beast::http::field::unknown, name, value); })
        fields.insert(field_of(name), name, value);
    else
        fields.insert(name, value);
}

// What the exchange saw itself, so that curl is not asked (each curl_easy_getinfo is ~80 instructions).
struct known_info {
    unsigned http_version = 0;  // of the last status line (10, 11, 20, 30), 0 without one
    unsigned status = 0;        // of the last status line
    bool failed = false;        // the transfer ended with an error
    bool redirects_followed = false;
    bool body_sent = false;
};

// The URL a request goes to: `target` when absolute, else `base_url` + `target` (as build_url makes it,
// without its checks): what a failure reports when the request never reached curl.
std::string url_of(std::string_view target, std::string_view base_url);

// Reads what curl knows about the finished transfer.
void collect_info(CURL* handle, const char* error_message, const known_info& known, transfer_info& info);

// An exchange's result with options::max_response_size applied: errc::response_too_large whoever noticed the
// limit — the fetch's sink (`refused_by_sink`), or curl itself (CURLE_FILESIZE_EXCEEDED).
error_code size_limited_result(error_code ec, std::size_t max_response_size, bool refused_by_sink);

}  // namespace asiocurl::http::detail

#endif

// One HTTP exchange over a lent handle (detail/exchange.hpp): setup, curl's callbacks, the head-complete
// rule, the end.
#include <asiocurl/detail/borrowed_easy.hpp>
#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/detail/connection_options.hpp>
#include <asiocurl/http/detail/exchange.hpp>
#include <asiocurl/http/detail/progress_reporter.hpp>
#include <asiocurl/http/detail/request_options.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace asiocurl::http::detail {
namespace {

// "stale=true" (any case, quoted or not) among a Digest challenge's parameters.
bool contains_stale_true(std::string_view value) noexcept {
    for (std::size_t at = 0; (at = value.find('=', at)) != std::string_view::npos; ++at) {
        std::size_t name_end = at;
        while (name_end > 0 && value[name_end - 1] == ' ')
            --name_end;
        if (name_end < 5 || !boost::beast::iequals(value.substr(name_end - 5, 5), "stale")) continue;
        std::string_view rest = value.substr(at + 1);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '"'))
            rest.remove_prefix(1);
        if (rest.size() >= 4 && boost::beast::iequals(rest.substr(0, 4), "true")) return true;
    }
    return false;
}

}  // namespace

error_code exchange::prepare(asiocurl::detail::easy_state& handle, const request_view& request,
                             const options& opts, boost::asio::any_io_executor progress_executor) {
    const error_code ec = set_up(handle, request, opts, std::move(progress_executor));
    // Refused: the handle goes back to the multi now, and nothing of this exchange's may stay on it.
    if (ec) let_go_of(handle);
    return ec;
}

error_code exchange::set_up(asiocurl::detail::easy_state& handle, const request_view& request,
                            const options& opts, boost::asio::any_io_executor progress_executor) {
    handle_ = &handle;
    // Before the handle is given the share: refused, nothing of the share's is touched. A share that holds
    // cookies serves one executor's transfers at a time (share.hpp).
    if (opts.cookies && opts.share && opts.share != opts.cookies->share()) {
        std::snprintf(handle.error_buffer, sizeof handle.error_buffer,
                      "asiocurl: options::share and options::cookies are two curl shares; a handle uses one "
                      "(make the jar on the share: cookie_jar(share))");
        return errc::invalid_argument;
    }
    if (const auto& used = share_of(opts)) {
        if (!asiocurl::detail::share_access::take(*used, handle.lender_executor))
            return errc::cookie_jar_in_use;
        // The handle holds the take, and the share alive while curl may use it (a stream keeps no options):
        // the multi gives it back when the handle comes back or is freed, on every path (ended, refused,
        // cancelled before it began, destroyed queued).
        handle.lent_share = used;
    }
    follow_redirects_ = opts.follow_redirects;
    server_challenges_ = opts.auth && opts.auth->scheme == credentials::kind::digest ? 1 : 0;
    proxy_challenges_ = opts.proxy_auth && opts.proxy_auth->scheme == credentials::kind::digest ? 1 : 0;
    no_body_ = request.method == "HEAD";
    has_body_ = request.has_body;
    customized_ = static_cast<bool>(opts.customize);
    CURL* curl = handle.handle;
    // The options of the last exchange on this handle, if they are the very same: kept (no reset, no setopt
    // but the request's own). Otherwise the handle is reset, if it was not, and everything is set.
    const bool reusable = reusable_setup::applies(request, opts);
    const auto* applied = static_cast<const reusable_setup*>(handle.applied_options.get());
    if (reusable && applied && applied->matches(request, opts)) {
        if (auto ec = apply_request_target(curl, request, opts, headers_, &handle)) return ec;
    } else {
        if (applied) asiocurl::detail::reset_lent(handle);
        if (auto ec = apply_request_options(curl, request, opts, headers_, &handle)) return ec;
        if (reusable) handle.applied_options = std::make_shared<reusable_setup>(request, opts);
        if (has_connection_options(opts)) {
            if (auto ec = check_signed_body(request, opts, handle.error_buffer)) return ec;
            if (auto ec = apply_connection_options(curl, opts, lists_, handle.error_buffer)) return ec;
        }
    }
    if (request.form) {
        if (request.method == "GET" || request.method == "HEAD") {
            std::snprintf(
                handle.error_buffer, sizeof handle.error_buffer,
                "asiocurl: a multipart body goes with POST, PUT or another method that sends one, not %s",
                request.method == "GET" ? "GET" : "HEAD");
            return errc::invalid_argument;
        }
        error_code ec;
        form_ = mime_form::build(handle, *request.form, ec);
        if (ec) return ec;
        curl_easy_setopt(curl, CURLOPT_MIMEPOST, form_->native());
        if (request.method != "POST")
            curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, std::string(request.method).c_str());
    }
    handle.keep_options = reusable;
    // The data callbacks are the exchange's, called directly (not through easy::set's forwarders): each
    // checks that the transfer was not aborted meanwhile, as the forwarders do (DESIGN rule 12). Their data
    // is the handle's state, whose observer is the exchange running it, so a handle keeps them from one
    // exchange to the next (until curl_easy_reset).
    if (!handle.exchange_callbacks) {
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &exchange::header_callback);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, static_cast<void*>(&handle));
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &exchange::write_callback);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, static_cast<void*>(&handle));
        handle.exchange_callbacks = true;
    }
    if (request.has_body) {
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, &exchange::read_callback);
        curl_easy_setopt(curl, CURLOPT_READDATA, static_cast<void*>(&handle));
    }
    handle.callbacks_owned = true;
    handle.share_owned = handle.lent_share != nullptr;
    if (opts.on_progress) {
        progress_ = std::make_shared<progress_reporter>(std::move(progress_executor), opts.on_progress,
                                                        opts.progress_interval);
        progress_->install(curl);
    }
    handle.transfer.observer = this;
    if (opts.customize) {
        // The user's own options go last, through an `easy` that borrows the handle.
        error_code ec;
        asiocurl::detail::borrowed_easy borrowed(handle);
        try {
            opts.customize(borrowed.get());
        } catch (const system_error& failure) {
            ec = failure.code();
        }
        if (ec) return ec;
    }
    return {};
}

exchange::~exchange() {
    // Let go of on every path that reached the multi (ended, refused, abandoned): what is left was never on a
    // handle, or its handle died with the operation.
    curl_slist_free_all(headers_);
    lists_.release(nullptr);
}

void exchange::let_go_of(asiocurl::detail::easy_state& state) noexcept {
    if (headers_) {
        curl_easy_setopt(state.handle, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));  // freed next
        curl_slist_free_all(headers_);
        headers_ = nullptr;
    }
    lists_.release(state.handle);
    form_.reset();  // unbinds itself from the handle's CURLOPT_MIMEPOST
    handle_ = nullptr;
}

void exchange::on_transfer_abandoned(asiocurl::detail::easy_state& state) noexcept {
    let_go_of(state);
}

// From what curl parsed (Curl_http_size, when the head ends): -1 when there is no length (chunked, or a
// connection-close body). A HEAD, a 204 or a 304 announces the length of a body that does not come.
std::optional<std::uint64_t> exchange::announced_body_length() const noexcept {
    if (!handle_ || no_body_ || status_ == 204 || status_ == 304) return std::nullopt;
    curl_off_t length = -1;
    if (curl_easy_getinfo(handle_->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK ||
        length < 0)
        return std::nullopt;
    constexpr std::uint64_t cap = 16 * 1024 * 1024;
    return std::min(static_cast<std::uint64_t>(length), cap);
}

void exchange::complete_head() {
    head_complete_ = true;
    on_final_head();
}

// The exchange a callback's data (the handle's state) belongs to: none once the transfer ended.
exchange* exchange::running(void* state) noexcept {
    auto* observer = static_cast<asiocurl::detail::easy_state*>(state)->transfer.observer;
    return static_cast<exchange*>(observer);
}

std::size_t exchange::header_callback(char* data, std::size_t size, std::size_t count, void* state) {
    exchange* running_exchange = running(state);
    if (!running_exchange) return CURL_WRITEFUNC_ERROR;
    auto& x = *running_exchange;
    const std::size_t length = size * count;
    if (x.handle_->aborted()) return CURL_WRITEFUNC_ERROR;
    if (x.head_complete_) return length;  // trailers
    const head_line line = parse_head_line(std::string_view(data, length));
    switch (line.what) {
        case head_line::kind::status:
            // A new head: a redirect being followed, or a 1xx before the final one.
            x.status_ = line.status;
            x.version_ = line.version;
            x.location_ = false;
            x.challenged_ = false;
            x.stale_ = false;
            x.on_status(line.version, line.status, line.reason);
            break;
        case head_line::kind::field:
            if (boost::beast::iequals(line.name, "location")) x.location_ = true;
            // Only a challenge's own fields are compared: this runs for every field of every response.
            if ((x.status_ == 401 || x.status_ == 407) &&
                boost::beast::iequals(line.name,
                                      x.status_ == 407 ? "proxy-authenticate" : "www-authenticate")) {
                x.challenged_ = true;
                // RFC 7616 3.3: the credentials were right but the nonce had expired; curl answers again.
                if (contains_stale_true(line.value)) x.stale_ = true;
            }
            x.on_field(line.name, line.value);
            break;
        case head_line::kind::end:
            // The one rule for every face: the final head ends with a blank line after a status of 200 or
            // more that is not a redirect curl follows (CONNECT responses of a proxy are suppressed).
            if (x.status_ >= 200 && !is_followed_redirect(x.status_, x.location_, x.follow_redirects_) &&
                !x.challenge_answered())
                x.complete_head();
            break;
        case head_line::kind::other:
            break;
    }
    return x.handle_->aborted() ? CURL_WRITEFUNC_ERROR : length;
}

// Digest takes two requests: the first goes without credentials, and curl answers the server's (or proxy's)
// 401 (407) challenge with a second one on its own, skipping the challenge's body. That first challenge is
// not the final head; a second one is (curl does not try the same credentials again).
bool exchange::challenge_answered() noexcept {
    unsigned char& left = status_ == 401 ? server_challenges_ : proxy_challenges_;
    if ((status_ != 401 && status_ != 407) || !challenged_ || (left == 0 && !stale_)) return false;
    // A stale nonce is answered again with the same credentials (curl's digest.c: only a challenge that is
    // not stale after one was answered ends the negotiation).
    if (!stale_) --left;
    return true;
}

std::size_t exchange::write_callback(char* data, std::size_t size, std::size_t count, void* state) {
    exchange* running_exchange = running(state);
    if (!running_exchange) return CURL_WRITEFUNC_ERROR;
    auto& x = *running_exchange;
    if (x.handle_->aborted()) return CURL_WRITEFUNC_ERROR;
    if (!x.head_complete_) x.complete_head();
    const std::size_t taken = x.on_body(data, size * count);
    return x.handle_->aborted() ? CURL_WRITEFUNC_ERROR : taken;
}

std::size_t exchange::read_callback(char* data, std::size_t size, std::size_t count, void* state) {
    exchange* running_exchange = running(state);
    if (!running_exchange) return CURL_READFUNC_ABORT;
    auto& x = *running_exchange;
    if (x.handle_->aborted()) return CURL_READFUNC_ABORT;
    const std::size_t given = x.on_request_body(data, size * count);
    return x.handle_->aborted() ? CURL_READFUNC_ABORT : given;
}

void exchange::on_transfer_end(asiocurl::detail::easy_state& state, error_code& ec) noexcept {
    if (!head_complete_ && !ec) complete_head();  // a response without a body (204, HEAD, Content-Length: 0)
    transfer_info& target = info();
    collect_info(state.handle, state.error_buffer,
                 known_info{.http_version = status_ ? version_ : 0u,
                            .status = status_,
                            .failed = static_cast<bool>(ec),
                            .redirects_followed = follow_redirects_ || customized_,
                            .body_sent = has_body_ || form_ || customized_},
                 target);
    if (progress_) progress_->end(state.handle);
    const error_code curls = ec;
    on_end(ec);
    if (ec != curls) target.error_message = ec.message();  // the face's verdict, not curl's text
    // The handle goes back to the multi's idle pool now: nothing of this exchange may touch it afterwards.
    let_go_of(state);
}

void exchange::report_end_of_progress() {
    if (progress_) progress_->report_end();
}

}  // namespace asiocurl::http::detail

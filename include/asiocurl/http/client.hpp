// asiocurl::http::basic_client: the defaults a service sets once for an upstream (base URL, headers, options,
// deadline), retries that are safe by default, and middleware around each attempt.
#ifndef ASIOCURL_HTTP_CLIENT_HPP
#define ASIOCURL_HTTP_CLIENT_HPP

#include <asiocurl/http/client_options.hpp>
#include <asiocurl/http/fetch.hpp>
#include <asiocurl/http/retry.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::http {

namespace detail {
struct client_state;
}

/// A client for one upstream, on a multi, a strand multi or a pool (`Target`): holds the defaults of
/// `client_options` and runs each call as attempts, retried as `retry_policy` allows. Copies are cheap and
/// share everything (the options, the budget, the middleware).
///
/// Threads: as its target. On a multi, calls are made on the multi's executor; on a strand multi or a pool,
/// from any thread (the budget is locked; middleware guard their own state).
///
/// Each call completes as `async_fetch` does — `void(error_code, response<Body>)`, once, on the handler's
/// associated executor (default: the target's), never inside the call; a response with any status is a
/// success (a 503 that was not retried, or retried to the end, too) — and fills `info.attempts` and
/// `info.retried` (how each earlier attempt ended, why it was retried, how long the client waited). For
/// `co_await` with exceptions, wrap the token in `with_diagnostics`: the `fetch_error` says the URL
/// (credentials left out), curl's detail and the number of attempts.
///
/// Cancellation, emitted on any thread: `terminal`, `partial` and `total` reach the running attempt as they
/// would a fetch (`total` only before it reached curl: a started attempt then completes with its own result)
/// and end a backoff wait at once with `operation_aborted`; a cancelled call is never retried. Every step of
/// a call runs on its handler's associated executor (else the client's), which must run one step at a time
/// (one thread, or a strand); a call made on another thread begins with a post there.
///
/// The request is sent again for a retry only when it can be copied (string, vector, empty bodies: the
/// client keeps the original and sends a copy); a request that cannot (`file_body`) is tried once.
template <class Target>
class basic_client {
public:
    using executor_type = typename Target::executor_type;

    /// `target` must outlive the client's calls. Throws `system_error` (`errc::invalid_argument`) for a
    /// retry policy that cannot work (http::check).
    explicit basic_client(Target& target, client_options options = {});

    executor_type get_executor() const noexcept { return target_->get_executor(); }
    const client_options& options() const noexcept;

    /// Sends `request` (its target origin-form, "/users/7", or absolute) with the client's defaults.
    template <class ResponseBody = boost::beast::http::string_body, class RequestBody,
              class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_fetch(boost::beast::http::request<RequestBody> request, call_options call,
                     CompletionToken&& token = CompletionToken());
    template <class ResponseBody = boost::beast::http::string_body, class RequestBody,
              class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_fetch(boost::beast::http::request<RequestBody> request,
                     CompletionToken&& token = CompletionToken()) {
        return async_fetch<ResponseBody>(std::move(request), call_options{},
                                         std::forward<CompletionToken>(token));
    }

    /// The common verbs: `target` as a request target (origin-form or absolute; text or a Boost.URL `url`),
    /// the body (if any) with its Content-Type.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_get(url_ref target, CompletionToken&& token = CompletionToken()) {
        return async_fetch(make_request(boost::beast::http::verb::get, target.text()),
                           std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_head(url_ref target, CompletionToken&& token = CompletionToken()) {
        return async_fetch(make_request(boost::beast::http::verb::head, target.text()),
                           std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_delete(url_ref target, CompletionToken&& token = CompletionToken()) {
        return async_fetch(make_request(boost::beast::http::verb::delete_, target.text()),
                           std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_post(url_ref target, std::string body, std::string_view content_type,
                    CompletionToken&& token = CompletionToken()) {
        return async_fetch(
            make_request(boost::beast::http::verb::post, target.text(), std::move(body), content_type),
            std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_put(url_ref target, std::string body, std::string_view content_type,
                   CompletionToken&& token = CompletionToken()) {
        return async_fetch(
            make_request(boost::beast::http::verb::put, target.text(), std::move(body), content_type),
            std::forward<CompletionToken>(token));
    }
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_patch(url_ref target, std::string body, std::string_view content_type,
                     CompletionToken&& token = CompletionToken()) {
        return async_fetch(
            make_request(boost::beast::http::verb::patch, target.text(), std::move(body), content_type),
            std::forward<CompletionToken>(token));
    }

private:
    static boost::beast::http::request<boost::beast::http::string_body> make_request(
        boost::beast::http::verb method, std::string_view target, std::string body = {},
        std::string_view content_type = {});

    Target* target_;
    std::shared_ptr<detail::client_state> state_;
};

template <class Target>
basic_client(Target&, client_options = {}) -> basic_client<Target>;

using client = basic_client<multi>;
using pool_client = basic_client<multi_pool>;

}  // namespace asiocurl::http

#include <asiocurl/http/impl/client.hpp>

#endif

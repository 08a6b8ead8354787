// asiocurl::http::with_diagnostics: a completion token adapter that turns a failed fetch into a fetch_error,
// for coroutine users whose token throws (use_awaitable, use_future) and would otherwise keep only the code.
#ifndef ASIOCURL_HTTP_WITH_DIAGNOSTICS_HPP
#define ASIOCURL_HTTP_WITH_DIAGNOSTICS_HPP

#include <asiocurl/http/fetch_error.hpp>
#include <asiocurl/http/response.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace asiocurl::http {

/// Wraps `token` for an operation completing with `void(error_code, response<B, F>)` (`async_fetch`): the
/// token sees `void(std::exception_ptr, response<B, F>)` instead, the exception a `fetch_error` carrying
/// curl's detail and the (redacted) URL, or null on success. With `use_awaitable`:
///
///     auto res = co_await http::async_fetch(multi, url, http::with_diagnostics(asio::use_awaitable));
///     // throws fetch_error: "http://127.0.0.1:9/: Failed to connect to ... [curl:7]"
///
/// The handler's associated executor, allocator and cancellation slot are the wrapped token's.
template <class CompletionToken>
struct with_diagnostics_t {
    CompletionToken token;
};

template <class CompletionToken>
with_diagnostics_t<std::decay_t<CompletionToken>> with_diagnostics(CompletionToken&& token) {
    return {std::forward<CompletionToken>(token)};
}

namespace detail {

template <class Handler>
struct diagnostics_handler {
    Handler handler;

    template <class Body, class Fields>
    void operator()(error_code ec, response<Body, Fields> res) {
        std::exception_ptr failure;
        if (ec)
            failure = std::make_exception_ptr(
                fetch_error(ec, res.info.error_message, res.info.effective_url, res.info.attempts));
        std::move(handler)(std::move(failure), std::move(res));
    }
};

template <class Initiation>
struct diagnostics_initiation {
    Initiation initiation;

    template <class Handler, class... Args>
    void operator()(Handler&& handler, Args&&... args) && {
        std::move(initiation)(diagnostics_handler<std::decay_t<Handler>>{std::forward<Handler>(handler)},
                              std::forward<Args>(args)...);
    }
};

}  // namespace detail
}  // namespace asiocurl::http

template <class CompletionToken, class Body, class Fields>
struct boost::asio::async_result<asiocurl::http::with_diagnostics_t<CompletionToken>,
                                 void(asiocurl::error_code, asiocurl::http::response<Body, Fields>)> {
    template <class Initiation, class RawToken, class... Args>
    static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
        // async_initiate takes the token as an lvalue (Asio 1.81), const when the wrapper was.
        using inner_token = std::conditional_t<std::is_const_v<std::remove_reference_t<RawToken>>,
                                               const CompletionToken, CompletionToken>;
        return boost::asio::async_initiate<inner_token,
                                           void(std::exception_ptr, asiocurl::http::response<Body, Fields>)>(
            asiocurl::http::detail::diagnostics_initiation<std::decay_t<Initiation>>{
                std::forward<Initiation>(initiation)},
            token.token, std::forward<Args>(args)...);
    }
};

template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, asiocurl::http::detail::diagnostics_handler<Handler>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const asiocurl::http::detail::diagnostics_handler<Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }
    static auto get(const asiocurl::http::detail::diagnostics_handler<Handler>& h,
                    const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};

#endif

// asiocurl::http::async_fetch: a Beast request in, a Beast response out.
#ifndef ASIOCURL_HTTP_FETCH_HPP
#define ASIOCURL_HTTP_FETCH_HPP

#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>
#include <asiocurl/http/url.hpp>
#include <asiocurl/multi.hpp>
#include <asiocurl/multi_pool.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string_view>

namespace asiocurl::http {

/// Sends `request` and reads the whole response through `multi`.
///
/// The URL: a request whose target is absolute-form ("https://host/path?q") names it; an origin-form target
/// ("/path?q", what a Beast server receives) is appended to `opts.base_url`, so a server forwards what it
/// received in one line: `async_fetch(multi, std::move(req), upstream_options, ...)` with
/// `upstream_options.base_url = "http://upstream:8080"` (a named object: g++ 12 destroys a braced temporary
/// inside `co_await` twice).
/// Every header is sent as given, except the hop-by-hop ones and those curl derives (Host,
/// Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade, TE, Trailer, Proxy-Connection,
/// Expect). A URL or header with CR, LF or NUL is refused before anything is sent (`errc::header_injection`).
///
/// The body is any Beast body: the request's is read with its reader (known length, or chunked when
/// `payload_size()` has none); the response's is written with its writer — `string_body`, `vector_body`,
/// `file_body` (pass a response whose body is an open file: the overload with `into`), `empty_body`.
///
/// Completion signature: `void(error_code, response<ResponseBody>)`: curl's error (compare with
/// `asiocurl::condition`), `errc::response_too_large` (also `condition::too_large`), `operation_aborted`.
/// A response with any status (404, 500) is a success: check `res.result()`. After a failure the response
/// holds what arrived before it (status 0 if nothing did). The handler runs once, on its
/// associated executor (default: the multi's), never inside this call.
///
/// Cancellation: `terminal` and `partial` abort the transfer; `total` only before it reached curl.
///
/// `opts` is copied (moved, when it is an rvalue) into the operation once, as Asio decay-copies the
/// arguments of an operation, so it need not outlive the call, whatever the token (`deferred` too); a
/// named `options` reused for every fetch costs one copy a fetch.
template <class ResponseBody = boost::beast::http::string_body, class Executor, class RequestBody,
          class RequestFields, class CompletionToken = boost::asio::default_completion_token_t<Executor>>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, const options& opts,
                 CompletionToken&& token = CompletionToken());
template <class ResponseBody = boost::beast::http::string_body, class Executor, class RequestBody,
          class RequestFields, class CompletionToken = boost::asio::default_completion_token_t<Executor>>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options&& opts,
                 CompletionToken&& token = CompletionToken());

/// The same, writing into `into` (for a body that needs setting up first, such as an open `file_body`).
template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken = boost::asio::default_completion_token_t<Executor>>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, const options& opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token = CompletionToken());
template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken = boost::asio::default_completion_token_t<Executor>>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options&& opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token = CompletionToken());

/// GET `url` (text, or a Boost.URL `url` / `url_view`) with the default options; the body arrives in a
/// string.
template <class Executor, class CompletionToken = boost::asio::default_completion_token_t<Executor>>
auto async_fetch(basic_multi<Executor>& multi, url_ref url, CompletionToken&& token = CompletionToken());

/// The same on a pool (from any thread): the fetch runs on the multi the pool's routing picks for its URL.
/// Options that name neither a share nor a cookie jar use the pool's share. A cookie jar serves one
/// executor at a time (`share_options::cookies`): with a pool, use it for one origin (routed by host, an
/// origin's fetches run on one multi).
template <class ResponseBody = boost::beast::http::string_body, class RequestBody, class RequestFields,
          class CompletionToken = boost::asio::default_completion_token_t<multi_pool::executor_type>>
auto async_fetch(multi_pool& pool, boost::beast::http::request<RequestBody, RequestFields> request,
                 options opts, CompletionToken&& token = CompletionToken());

template <class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken = boost::asio::default_completion_token_t<multi_pool::executor_type>>
auto async_fetch(multi_pool& pool, boost::beast::http::request<RequestBody, RequestFields> request,
                 options opts, response<ResponseBody, ResponseFields> into,
                 CompletionToken&& token = CompletionToken());

template <class CompletionToken = boost::asio::default_completion_token_t<multi_pool::executor_type>>
auto async_fetch(multi_pool& pool, url_ref url, CompletionToken&& token = CompletionToken());

}  // namespace asiocurl::http

#include <asiocurl/http/impl/fetch.hpp>

#endif

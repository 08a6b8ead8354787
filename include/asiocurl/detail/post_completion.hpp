#ifndef ASIOCURL_DETAIL_POST_COMPLETION_HPP
#define ASIOCURL_DETAIL_POST_COMPLETION_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

namespace asiocurl::detail {

// The one place a completion is delivered: posted (never run inline, DESIGN "The Asio contract") to the
// handler's associated executor, `fallback` when it has none, with the handler's allocator.
// `on_fallback`: the caller knows the handler's executor is `fallback` itself, so one post suffices
// (otherwise: a post to `fallback`, then a dispatch to the handler's executor, as asio::post does).
void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code)> handler, error_code ec,
                     bool on_fallback = false);

}  // namespace asiocurl::detail

#endif

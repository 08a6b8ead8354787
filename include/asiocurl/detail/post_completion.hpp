#ifndef ASIOCURL_DETAIL_POST_COMPLETION_HPP
#define ASIOCURL_DETAIL_POST_COMPLETION_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

namespace asiocurl::detail {

// The one place a completion is delivered: posted (never run inline, DESIGN "The Asio contract") to the
// handler's associated executor, `fallback` when it has none, with the handler's allocator.
void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code)> handler, error_code ec);

}  // namespace asiocurl::detail

#endif

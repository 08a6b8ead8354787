#ifndef ASIOCURL_IMPL_MULTI_POOL_HPP
#define ASIOCURL_IMPL_MULTI_POOL_HPP

#include <utility>

namespace asiocurl {

template <class CompletionToken>
auto multi_pool::async_perform(easy& handle, CompletionToken&& token) {
    const detail::easy_state* handle_state = handle.state();
    adopt_share(handle);
    return pick(handle_state ? handle_state->origin : 0)
        .async_perform(handle, std::forward<CompletionToken>(token));
}

}  // namespace asiocurl

#endif

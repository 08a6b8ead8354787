#ifndef ASIOCURL_DETAIL_GLOBAL_INIT_HPP
#define ASIOCURL_DETAIL_GLOBAL_INIT_HPP

namespace asiocurl::detail {

// curl_global_init, once per process, before the first handle (DESIGN rule 11). curl_global_init is not
// thread-safe in 7.88, so it runs under a function-local static's initialisation guard.
void ensure_curl_global_init();

}  // namespace asiocurl::detail

#endif

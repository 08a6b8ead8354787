#ifndef ASIOCURL_DETAIL_CURL_ENGINE_HPP
#define ASIOCURL_DETAIL_CURL_ENGINE_HPP

#include <curl/curl.h>

namespace asiocurl::detail {

// The seam between the glue and curl's multi interface (DESIGN "One seam for tests"): every multi-level
// call the glue makes goes through an engine. This one is libcurl itself, inline, at no cost; the tests'
// scripted engine has the same members and replays callback orders a real server cannot provoke.
class curl_engine {
public:
    curl_engine() : handle_(curl_multi_init()) {}
    curl_engine(const curl_engine&) = delete;
    curl_engine& operator=(const curl_engine&) = delete;
    ~curl_engine() { cleanup(); }

    bool valid() const noexcept { return handle_ != nullptr; }
    CURLM* native_handle() const noexcept { return handle_; }

    CURLMcode socket_action(curl_socket_t fd, int events, int* running) {
        return curl_multi_socket_action(handle_, fd, events, running);
    }
    CURLMsg* info_read(int* left) { return curl_multi_info_read(handle_, left); }
    CURLMcode assign(curl_socket_t fd, void* socketp) { return curl_multi_assign(handle_, fd, socketp); }
    CURLMcode add(CURL* easy) { return curl_multi_add_handle(handle_, easy); }
    CURLMcode remove(CURL* easy) { return curl_multi_remove_handle(handle_, easy); }
    // curl_easy_pause: calls the write, header, socket and timer callbacks before it returns (DESIGN rule 9).
    CURLcode pause(CURL* easy, int bitmask) { return curl_easy_pause(easy, bitmask); }
    template <class T>
    CURLMcode setopt(CURLMoption option, T value) {
        return curl_multi_setopt(handle_, option, value);
    }
    // curl_multi_cleanup; fires the close-socket callback for every cached connection.
    CURLMcode cleanup() {
        CURLMcode result = CURLM_OK;
        if (handle_) result = curl_multi_cleanup(handle_);
        handle_ = nullptr;
        return result;
    }

private:
    CURLM* handle_;
};

}  // namespace asiocurl::detail

#endif

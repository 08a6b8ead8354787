// A stand-in for curl's multi behind the glue's seam (DESIGN "One seam for tests"). It replays callback
// orders that a real server cannot provoke on demand and records every call the glue makes, with curl's own
// rule that no multi call may come from inside a callback (CURLM_RECURSIVE_API_CALL).
#ifndef ASIOCURL_TEST_SCRIPTED_ENGINE_HPP
#define ASIOCURL_TEST_SCRIPTED_ENGINE_HPP

#include <curl/curl.h>

#include <deque>
#include <functional>
#include <map>
#include <type_traits>
#include <utility>
#include <vector>

namespace asiocurl::test {

class scripted_engine {
public:
    using socket_function = int (*)(CURL*, curl_socket_t, int, void*, void*);
    using timer_function = int (*)(CURLM*, long, void*);

    // ---- the seam ----
    bool valid() const noexcept { return true; }
    CURLM* native_handle() const noexcept { return nullptr; }

    CURLMcode socket_action(curl_socket_t fd, int events, int* running) {
        if (refuse_recursion()) return CURLM_RECURSIVE_API_CALL;
        actions.emplace_back(fd, events);
        in_action_ = true;
        if (on_action) on_action(fd, events);
        in_action_ = false;
        *running = static_cast<int>(added.size());
        return CURLM_OK;
    }
    CURLMsg* info_read(int* left) {
        *left = 0;
        if (done.empty()) return nullptr;
        current_ = done.front();
        done.pop_front();
        *left = static_cast<int>(done.size());
        return &current_;
    }
    CURLMcode assign(curl_socket_t fd, void* socketp) {
        auto it = sockets.find(fd);
        if (it == sockets.end()) return CURLM_BAD_SOCKET;
        it->second.socketp = socketp;
        return CURLM_OK;
    }
    CURLMcode add(CURL* easy) {
        if (refuse_recursion()) return CURLM_RECURSIVE_API_CALL;
        added.push_back(easy);
        if (on_add) on_add(easy);
        return CURLM_OK;
    }
    CURLcode pause(CURL* easy, int bitmask) {
        if (refuse_recursion()) return CURLE_RECURSIVE_API_CALL;
        pauses.emplace_back(easy, bitmask);
        in_action_ = true;  // curl is on the stack while it calls back from curl_easy_pause
        if (on_pause) on_pause(easy, bitmask);
        in_action_ = false;
        return CURLE_OK;
    }
    CURLMcode remove(CURL* easy) {
        if (refuse_recursion()) return CURLM_RECURSIVE_API_CALL;
        std::erase(added, easy);
        removed.push_back(easy);
        // As curl does: sockets only this transfer used go away with it.
        std::vector<curl_socket_t> owned;
        for (auto& [fd, s] : sockets)
            if (s.easy == easy) owned.push_back(fd);
        for (curl_socket_t fd : owned)
            socket_cb(easy, fd, CURL_POLL_REMOVE);
        return CURLM_OK;
    }
    template <class T>
    CURLMcode setopt(CURLMoption option, T value) {
        if constexpr (std::is_same_v<T, socket_function>) {
            if (option == CURLMOPT_SOCKETFUNCTION) socket_fn_ = value;
        } else if constexpr (std::is_same_v<T, timer_function>) {
            if (option == CURLMOPT_TIMERFUNCTION) timer_fn_ = value;
        } else if constexpr (std::is_pointer_v<T>) {
            if (option == CURLMOPT_SOCKETDATA) socket_data_ = static_cast<void*>(value);
            if (option == CURLMOPT_TIMERDATA) timer_data_ = static_cast<void*>(value);
        }
        return CURLM_OK;
    }
    CURLMcode cleanup() {
        cleaned_up = true;
        std::vector<std::pair<CURL*, curl_socket_t>> left;
        for (auto& [fd, s] : sockets)
            left.emplace_back(s.easy, fd);
        for (auto& [easy, fd] : left)
            socket_cb(easy, fd, CURL_POLL_REMOVE);
        return CURLM_OK;
    }

    // ---- what a script calls, as curl would ----
    // Calls the socket callback with the socketp last assigned to `fd` (nullptr for a new socket).
    int socket_cb(CURL* easy, curl_socket_t fd, int what) {
        auto [it, inserted] = sockets.try_emplace(fd, known_socket{easy, nullptr});
        void* socketp = it->second.socketp;
        in_callback_ = true;
        const int result = socket_fn_(easy, fd, what, socket_data_, socketp);
        in_callback_ = false;
        socket_cb_results.push_back(result);
        if (what == CURL_POLL_REMOVE) sockets.erase(fd);
        return result;
    }
    int timer_cb(long timeout_ms) {
        const bool nested = in_callback_;
        in_callback_ = true;
        const int result = timer_fn_(nullptr, timeout_ms, timer_data_);
        in_callback_ = nested;
        return result;
    }
    void finish(CURL* easy, CURLcode result) {
        CURLMsg message{};
        message.msg = CURLMSG_DONE;
        message.easy_handle = easy;
        message.data.result = result;
        done.push_back(message);
    }

    // ---- the script ----
    std::function<void(CURL*)> on_add;                  // runs inside add()
    std::function<void(curl_socket_t, int)> on_action;  // runs inside socket_action()

    // ---- what happened ----
    struct known_socket {
        CURL* easy;
        void* socketp;
    };
    std::map<curl_socket_t, known_socket> sockets;
    std::vector<std::pair<curl_socket_t, int>> actions;
    std::vector<int> socket_cb_results;
    std::vector<CURL*> added, removed;
    std::vector<std::pair<CURL*, int>> pauses;
    std::function<void(CURL*, int)> on_pause;  // runs inside pause(), as curl's re-entrant callbacks would
    std::deque<CURLMsg> done;
    int recursive_calls = 0;
    bool cleaned_up = false;

    int timeout_actions() const {
        int n = 0;
        for (auto& [fd, ev] : actions)
            n += fd == CURL_SOCKET_TIMEOUT;
        return n;
    }

private:
    // curl 7.88 refuses multi calls from its callbacks, and a socket_action inside a socket_action.
    bool refuse_recursion() {
        if (!in_callback_ && !in_action_) return false;
        ++recursive_calls;
        return true;
    }

    socket_function socket_fn_ = nullptr;
    timer_function timer_fn_ = nullptr;
    void* socket_data_ = nullptr;
    void* timer_data_ = nullptr;
    bool in_callback_ = false;
    bool in_action_ = false;
    CURLMsg current_{};
};

}  // namespace asiocurl::test

#endif

// asiocurl::share: a curl share (CURLSH) with a lock per kind of data, for handles on several multis and
// threads.
#ifndef ASIOCURL_SHARE_HPP
#define ASIOCURL_SHARE_HPP

#include <asiocurl/error.hpp>

#include <curl/curl.h>
#include <boost/asio/any_io_executor.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <utility>

namespace asiocurl {

namespace detail {
struct share_access;
}

/// What a share holds (CURLSHOPT_SHARE). A kind the linked curl was built without (the public-suffix list
/// needs libpsl) is left out; `share::holds` says what is shared.
struct share_options {
    bool dns = true;           ///< resolved names (CURL_LOCK_DATA_DNS)
    bool tls_sessions = true;  ///< TLS session tickets and ids, for resumed handshakes (..._SSL_SESSION)
    bool public_suffix_list = true;  ///< the list cookies are checked against (CURL_LOCK_DATA_PSL)
    /// Cookies (CURL_LOCK_DATA_COOKIE). curl does not support cookies shared between concurrent threads
    /// (curl 8.12 to 8.14 crash on it, whatever the locks): with cookies the share serves the transfers of
    /// one executor at a time, and a transfer on another executor meanwhile fails with
    /// `errc::cookie_jar_in_use`.
    bool cookies = false;
    /// The connection pool (CURL_LOCK_DATA_CONNECT): refused with `errc::unsafe_share`. curl documents
    /// sharing connections between concurrent threads as unsupported (it has never worked); on one thread a
    /// multi already pools the connections of its handles.
    bool connections = false;
};

/// How often each kind's lock was taken, and how often a thread found it held and waited.
struct share_stats {
    struct lock_counts {
        std::uint64_t taken = 0;
        std::uint64_t contended = 0;
    };
    lock_counts dns, tls_sessions, public_suffix_list, cookies;
    lock_counts share;  ///< curl's lock of the share itself (handles attaching and leaving)
};

/// A curl share, held through `std::shared_ptr` by every handle that uses it (`easy::set_share`,
/// `http::options::share`): it lives as long as the last of them. Thread-safe: handles on any number of
/// multis and threads may use it at once (but see `share_options::cookies`); each kind of data has its own
/// lock, so that a name lookup does not wait on a TLS session being stored.
class share {
public:
    /// Throws `system_error`: `errc::unsafe_share` for connections, curl's CURLSHcode otherwise.
    explicit share(const share_options& options = {});
    ~share();
    share(const share&) = delete;
    share& operator=(const share&) = delete;

    /// Whether the share holds this kind (CURL_LOCK_DATA_*): asked for, and built into the linked curl.
    bool holds(curl_lock_data kind) const noexcept;
    share_stats stats() const noexcept;
    CURLSH* native_handle() const noexcept { return handle_; }

private:
    friend struct detail::share_access;
    static void lock(CURL*, curl_lock_data kind, curl_lock_access, void* self);
    static void unlock(CURL*, curl_lock_data kind, void* self);

    // With cookies: a transfer on `executor` takes the share for its run (false: transfers on another
    // executor hold it) and gives it back at its end.
    bool take(const boost::asio::any_io_executor& executor);
    void give_back() noexcept;
    // Changing the cookies is safe from no thread but the one running the transfers that hold them: `change`
    // runs with no other executor able to take the share meanwhile, or errc::cookie_jar_in_use is thrown.
    template <class Change>
    void change_cookies(const char* what, Change&& change) const {
        std::lock_guard lock(users_mutex_);
        check_cookies_writable(what);
        change();
    }
    void check_cookies_writable(const char* what) const;  // under users_mutex_

    struct kind_lock {
        std::mutex mutex;
        std::atomic<std::uint64_t> taken{0};
        std::atomic<std::uint64_t> contended{0};
    };
    // Indexed by curl_lock_data (CURL_LOCK_DATA_SHARE .. CURL_LOCK_DATA_HSTS, and room for newer kinds).
    std::array<kind_lock, 10> locks_;
    unsigned held_kinds_ = 0;  // bit per curl_lock_data
    CURLSH* handle_ = nullptr;

    mutable std::mutex users_mutex_;
    std::optional<boost::asio::any_io_executor> user_executor_;  // of the transfers holding the cookies
    std::size_t users_ = 0;
};

namespace detail {
// For the library's own users of a share's executor binding (the http exchange, the multi).
struct share_access {
    static bool take(share& s, const boost::asio::any_io_executor& executor) { return s.take(executor); }
    static void give_back(share& s) noexcept { s.give_back(); }
    template <class Change>
    static void change_cookies(const share& s, const char* what, Change&& change) {
        s.change_cookies(what, std::forward<Change>(change));
    }
};
}  // namespace detail

}  // namespace asiocurl

#endif

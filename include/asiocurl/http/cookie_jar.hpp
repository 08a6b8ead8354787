// asiocurl::http::cookie_jar: cookies kept in memory and shared between fetches.
#ifndef ASIOCURL_HTTP_COOKIE_JAR_HPP
#define ASIOCURL_HTTP_COOKIE_JAR_HPP

#include <curl/curl.h>
#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::http {

namespace detail {
class exchange;
}

/// An in-memory cookie store (a curl share of the cookie data). Give the same jar (through
/// `options::cookies`) to the fetches and streams that should see each other's cookies.
///
/// Threads: curl does not support cookies shared between concurrent threads (CURLSHOPT_SHARE; curl 8.12 to
/// 8.14 crash on it), even with the share's locks: curl uses the cookies it matched after letting go of the
/// lock. So a jar is used by the transfers of one executor at a time: a fetch or stream on a multi whose
/// executor is another than that of the transfers using the jar fails with `errc::cookie_jar_in_use`
/// (before anything is sent); once those have ended, any multi may use it. Multis on one `io_context`'s
/// executor (one thread) share a jar freely; a strand is its own executor. `add` and `clear` while transfers
/// use the jar must be called on their executor's thread (elsewhere they throw `errc::cookie_jar_in_use`);
/// `cookies` may be called from anywhere.
class cookie_jar {
public:
    cookie_jar();
    ~cookie_jar();
    cookie_jar(const cookie_jar&) = delete;
    cookie_jar& operator=(const cookie_jar&) = delete;

    /// Every cookie held, one Netscape cookie-file line each (domain, flag, path, secure, expiry, name,
    /// value, tab-separated).
    std::vector<std::string> cookies() const;
    /// Adds a cookie: a "Set-Cookie: name=value; ..." header line or a Netscape cookie-file line.
    void add(std::string_view line);
    /// Forgets every cookie.
    void clear();

    CURLSH* native_handle() const noexcept { return share_; }

private:
    friend class detail::exchange;
    // An exchange on `executor` takes the jar for its transfer (false: transfers on another executor hold
    // it), and gives it back at the transfer's end.
    bool take(const boost::asio::any_io_executor& executor);
    void give_back() noexcept;
    // Unless no transfer holds the jar or this thread runs theirs: errc::cookie_jar_in_use.
    void check_writable(const char* what) const;

    void apply(const char* command_or_line) const;
    static void lock(CURL*, curl_lock_data, curl_lock_access, void* self);
    static void unlock(CURL*, curl_lock_data, void* self);

    CURLSH* share_;
    mutable std::mutex mutex_;  // curl's lock of the cookie data
    mutable std::mutex users_mutex_;
    std::optional<boost::asio::any_io_executor> user_executor_;  // of the transfers holding the jar
    std::size_t users_ = 0;
};

}  // namespace asiocurl::http

#endif

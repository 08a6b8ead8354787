// asiocurl::http::cookie_jar: cookies kept in memory and shared between fetches.
#ifndef ASIOCURL_HTTP_COOKIE_JAR_HPP
#define ASIOCURL_HTTP_COOKIE_JAR_HPP

#include <asiocurl/share.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::http {

/// An in-memory cookie store: the cookies of an `asiocurl::share`. Give the same jar (through
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
    /// A jar of its own: a share that holds the cookies and nothing else.
    cookie_jar();
    /// The cookies of `cookies_share`, which also holds whatever else it was made with (a handle uses one
    /// share: this is how a jar and a DNS cache or TLS sessions go together). Throws `system_error`
    /// (`errc::invalid_argument`) when the share holds no cookies.
    explicit cookie_jar(std::shared_ptr<asiocurl::share> cookies_share);
    cookie_jar(const cookie_jar&) = delete;
    cookie_jar& operator=(const cookie_jar&) = delete;

    /// Every cookie held, one Netscape cookie-file line each (domain, flag, path, secure, expiry, name,
    /// value, tab-separated).
    std::vector<std::string> cookies() const;
    /// Adds a cookie: a "Set-Cookie: name=value; ..." header line or a Netscape cookie-file line.
    void add(std::string_view line);
    /// Forgets every cookie.
    void clear();

    const std::shared_ptr<asiocurl::share>& share() const noexcept { return share_; }
    CURLSH* native_handle() const noexcept { return share_->native_handle(); }

private:
    void apply(const char* command_or_line) const;

    std::shared_ptr<asiocurl::share> share_;
};

}  // namespace asiocurl::http

#endif

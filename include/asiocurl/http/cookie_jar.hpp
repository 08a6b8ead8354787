// asiocurl::http::cookie_jar: cookies kept in memory and shared between fetches.
#ifndef ASIOCURL_HTTP_COOKIE_JAR_HPP
#define ASIOCURL_HTTP_COOKIE_JAR_HPP

#include <curl/curl.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::http {

/// An in-memory cookie store (a curl share of the cookie data). Give the same jar (through
/// `options::cookies`) to the fetches that should see each other's cookies; fetches on several threads may
/// share it (curl's accesses are locked).
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
    void apply(const char* command_or_line) const;
    static void lock(CURL*, curl_lock_data, curl_lock_access, void* self);
    static void unlock(CURL*, curl_lock_data, void* self);

    CURLSH* share_;
    mutable std::mutex mutex_;
};

}  // namespace asiocurl::http

#endif

// asiocurl::easy: the owner of one curl easy handle (one transfer at a time).
#ifndef ASIOCURL_EASY_HPP
#define ASIOCURL_EASY_HPP

#include <asiocurl/error.hpp>

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl {
class share;
namespace detail {
struct easy_state;
class borrowed_easy;
}  // namespace detail

/// Move-only owner of a `CURL*`.
///
/// Every handle the library creates has `CURLOPT_NOSIGNAL` set (also after `reset()`): signals and threads
/// do not mix, and an event loop never wants curl's alarm-based DNS timeouts.
///
/// Options are set with `set(option, value)`, which checks the value's type against the option's (a
/// `long` for a long option, a string for a string option, …) and reports curl's error as an `error_code`
/// (overload with `error_code&`) or a thrown `system_error`. Strings are copied by curl, except where curl
/// documents otherwise (`CURLOPT_POSTFIELDS`: prefer `CURLOPT_COPYPOSTFIELDS`).
///
/// Callbacks: `CURLOPT_WRITEFUNCTION`, `CURLOPT_HEADERFUNCTION`, `CURLOPT_READFUNCTION` and
/// `CURLOPT_XFERINFOFUNCTION` (and their `*DATA`) set here are called through the library's own: once the
/// transfer is aborted — the `easy` destroyed, the operation cancelled, the multi shut down, even from inside
/// one of these callbacks while curl goes on in the same call — none of them runs again for that transfer.
/// Options the library sets itself are refused with `errc::option_owned_by_library`: `CURLOPT_PRIVATE`,
/// `CURLOPT_ERRORBUFFER`, `CURLOPT_CLOSESOCKETFUNCTION`, `CURLOPT_OPENSOCKETFUNCTION` and their data (DESIGN
/// rules 3 and 4: the glue keeps an idle connection's socket registered only because it opened it and will
/// see it closed; `CURLOPT_SOCKOPTFUNCTION` remains the user's, for socket options); in
/// `http::options::customize` also the data callbacks and their data (the exchange's own), and
/// `CURLOPT_SHARE` beside a cookie jar.
/// Callbacks set with `curl_easy_setopt` on `native_handle()` bypass this: curl may call them until the curl
/// call that was running returns. Every handle also sets `CURLOPT_QUICK_EXIT` (an aborted DNS lookup never
/// blocks: its resolver thread finishes on its own).
///
/// Proxies from the environment (`http_proxy`, `https_proxy`, `all_proxy`, `no_proxy`, …) are honoured as
/// curl honours them, but read when the handle is created or `reset()`, not on every transfer: when the
/// environment names no proxy then, the handle sets `CURLOPT_PROXY` and `CURLOPT_NOPROXY` to "" (curl would
/// otherwise scan the environment up to seven times per transfer, 3% of a keep-alive request).
///
/// Thread safety: an `easy` is not thread-safe. While a transfer runs (between `async_perform` and its
/// completion) only the multi running it touches the handle; destroying the `easy` then aborts the
/// transfer (its handler gets `operation_aborted`) and must happen on the multi's executor — anywhere there,
/// including inside a callback of that very transfer.
class easy {
public:
    /// Creates a handle. Throws `system_error` if curl cannot allocate one.
    easy();
    easy(easy&& other) noexcept;
    easy& operator=(easy&& other) noexcept;
    ~easy();

    /// The underlying handle, or nullptr for a moved-from `easy`.
    CURL* native_handle() const noexcept;
    /// False for a moved-from `easy`.
    explicit operator bool() const noexcept { return state_ != nullptr; }

    /// Sets a curl option. Integers go to long and curl_off_t options, strings (`const char*`,
    /// `std::string`, `std::string_view`; an embedded NUL is refused) to string options, pointers to
    /// object, list and callback options, function pointers to callback options.
    template <class T>
    void set(CURLoption option, const T& value, error_code& ec);
    template <class T>
    void set(CURLoption option, const T& value);

    /// Reads a `CURLINFO` value. `T` is `long`, `curl_off_t`, `double`, `std::string` or `const char*`
    /// (string infos; nullptr when curl has none), `curl_slist*` (owned by the caller; free it with
    /// `curl_slist_free_all`), or `curl_socket_t`, matching the info's type.
    template <class T>
    T info(CURLINFO what, error_code& ec) const;
    template <class T>
    T info(CURLINFO what) const;

    /// `curl_easy_reset`: every option back to its default (the library's own stay on: `CURLOPT_NOSIGNAL`,
    /// and the proxy environment is read again). Live connections and caches are kept. Not allowed while a
    /// transfer runs (throws `errc::easy_in_use`).
    void reset();

    /// curl's detailed message for the last failed transfer (`CURLOPT_ERRORBUFFER`), e.g. "SSL certificate
    /// problem: unable to get local issuer certificate"; empty when the last transfer succeeded.
    std::string_view error_message() const noexcept;

    /// Appends the response body to `body` (which must outlive the transfers that use it).
    void write_to(std::string& body);
    void write_to(std::vector<char>& body);
    /// Reads and drops the response body.
    void discard_body();

    /// Uses `data` (CURLOPT_SHARE) for name lookups, TLS sessions and whatever else it holds, kept alive by
    /// this handle while it uses it; nullptr: none. A share that holds cookies serves the transfers of one
    /// executor at a time (`async_perform` elsewhere meanwhile fails with `errc::cookie_jar_in_use`). Not
    /// while a transfer runs (`errc::easy_in_use`).
    void set_share(std::shared_ptr<share> data);

    /// True while a transfer runs on this handle.
    bool busy() const noexcept;

    /// The library's state for this handle (used by the multi).
    detail::easy_state* state() const noexcept { return state_.get(); }

private:
    friend class detail::borrowed_easy;
    struct borrow_tag {};
    easy(detail::easy_state* state, borrow_tag) noexcept;

    std::unique_ptr<detail::easy_state> state_;
};

}  // namespace asiocurl

#include <asiocurl/impl/easy.hpp>

#endif

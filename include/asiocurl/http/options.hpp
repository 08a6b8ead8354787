// asiocurl::http::options: what a fetch may ask of curl, with safe defaults.
#ifndef ASIOCURL_HTTP_OPTIONS_HPP
#define ASIOCURL_HTTP_OPTIONS_HPP

#include <asiocurl/easy.hpp>
#include <asiocurl/http/progress.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace asiocurl {
class share;
}

namespace asiocurl::http {

class cookie_jar;

/// Which HTTP version a fetch asks for.
enum class http_version {
    any,                    ///< curl's default: HTTP/2 over TLS when the server offers it, else HTTP/1.1
    http1_1,                ///< HTTP/1.1 only
    http2_tls,              ///< HTTP/2 over TLS (multiplexed on one connection, CURLOPT_PIPEWAIT)
    http2_prior_knowledge,  ///< HTTP/2 over plain TCP without upgrade (h2c)
};

/// TLS settings. Verification is on unless switched off explicitly.
struct tls_options {
    bool verify_peer = true;           ///< the certificate chains to a trusted CA
    bool verify_host = true;           ///< the certificate names the host
    std::string ca_file{};             ///< PEM bundle of trusted CAs (default: the system's)
    std::string ca_path{};             ///< directory of trusted CAs
    std::string client_certificate{};  ///< PEM client certificate (mutual TLS)
    std::string client_key{};          ///< its private key
    std::string pinned_public_key{};   ///< "sha256//base64..." or a PEM/DER file: the server's key must match
    long min_version = CURL_SSLVERSION_TLSv1_2;  ///< lowest TLS version accepted (CURL_SSLVERSION_*)
};

/// Options of one fetch. The defaults are the safe ones: TLS verified, http and https only (redirects
/// too), no redirects followed, responses limited to 64 MiB, no proxy (environment variables ignored).
struct options {
    /// Prefix for a request whose target is origin-form ("/path?q"): "http://upstream:8080". A request with
    /// an absolute-form target ("https://host/path") names its URL itself and ignores this.
    std::string base_url{};
    std::chrono::milliseconds timeout{0};          ///< the whole transfer (0: none) — condition::timed_out
    std::chrono::milliseconds connect_timeout{0};  ///< connection setup (0: curl's 300 s)
    bool follow_redirects = false;
    long max_redirects = 10;  ///< beyond it: condition::too_many_redirects
    tls_options tls{};
    std::string proxy{};        ///< "http://127.0.0.1:3128"; empty: no proxy, whatever the environment says
    bool proxy_tunnel = false;  ///< CONNECT through the proxy for plain http too (https always tunnels)
    http_version version = http_version::any;
    bool decompress = true;  ///< Accept-Encoding with every encoding curl decodes (gzip, deflate, br, zstd)
    std::shared_ptr<cookie_jar> cookies{};  ///< cookies sent and stored; share one jar between fetches
    /// DNS cache, TLS sessions (resumed handshakes) and more shared with handles on other multis and threads.
    /// A handle uses one curl share: with `cookies` too, it must be the jar's (`cookie_jar(share)`), else
    /// the fetch fails with `errc::invalid_argument`.
    std::shared_ptr<asiocurl::share> share{};
    std::string user_agent = "asiocurl/0.1";
    std::size_t max_response_size = 64u << 20;     ///< body bytes (0: unlimited) — condition::too_large
    std::string allowed_protocols = "http,https";  ///< for the URL and every redirect
    /// Any other curl option, set last, on an `easy` that borrows the exchange's handle for the call. Options
    /// the library installs (callbacks, CURLOPT_PRIVATE, the error buffer, a cookie jar's share) are refused
    /// with errc::option_owned_by_library, and so is `reset()`; moving from it leaves it in place (a
    /// moved-to easy is empty, an assigned-to one keeps its own handle), and `async_perform` on it fails with
    /// errc::easy_in_use.
    std::function<void(easy&)> customize{};
    /// Progress reports (CURLOPT_XFERINFOFUNCTION), run on the operation's executor (the fetch's handler's,
    /// or the stream's): at most one per `progress_interval` while data moves, never queued up, and a last
    /// one with `done` before the operation completes. `progress_watcher::callback()` makes them awaitable.
    std::function<void(const progress&)> on_progress{};
    std::chrono::milliseconds progress_interval{100};
};

}  // namespace asiocurl::http

#endif

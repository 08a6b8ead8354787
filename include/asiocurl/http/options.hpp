// asiocurl::http::options: what a fetch may ask of curl, with safe defaults.
#ifndef ASIOCURL_HTTP_OPTIONS_HPP
#define ASIOCURL_HTTP_OPTIONS_HPP

#include <asiocurl/easy.hpp>
#include <asiocurl/http/progress.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
    /// The same in memory, PEM text (curl's *_BLOB options; copied into the handle): trusted CAs (in place of
    /// `ca_file`), the client certificate and its key.
    // Optional rather than empty strings: an options object is copied and moved with every fetch, and an
    // empty std::string costs ~40 instructions a copy where an empty optional costs ~3.
    std::optional<std::string> ca_pem{};
    std::optional<std::string> client_certificate_pem{};
    std::optional<std::string> client_key_pem{};
    std::optional<std::string> key_password{};  ///< of an encrypted client key (file or PEM); never shown
};

/// Credentials that curl turns into the request's Authorization (or Proxy-Authorization) field. curl sends
/// them to the URL's own scheme, host and port only: a redirect elsewhere goes without them. They never
/// appear in an error message, a `request_log` entry or `transfer_info`. They do go to whatever URL the
/// request itself names: an `http::client` whose defaults carry them sends them to any absolute URL a call
/// gives. AWS SigV4 signs a body only through its `x-amz-content-sha256` field (a request with a body and
/// without it is refused); a multipart body, whose boundary curl chooses, can only say "UNSIGNED-PAYLOAD".
struct credentials {
    enum class kind {
        none,
        basic,      ///< "Basic base64(user:secret)", sent with the first request
        bearer,     ///< "Bearer <secret>" (OAuth 2.0, RFC 6750)
        digest,     ///< RFC 7616: the first request goes without, the server's challenge is answered
        aws_sigv4,  ///< AWS Signature Version 4 of method, target, signed fields and body (CURLOPT_AWS_SIGV4)
    };
    kind scheme = kind::none;
    std::string user{};    ///< basic and digest: the user; aws_sigv4: the access key id
    std::string secret{};  ///< basic and digest: the password; bearer: the token; aws_sigv4: the secret key
    /// aws_sigv4 only: "provider1[:provider2[:region[:service]]]", e.g. "aws:amz:eu-west-1:s3" (curl derives
    /// region and service from an amazonaws.com host name when they are left out).
    std::string aws_provider{};
};

credentials basic_auth(std::string user, std::string password);
credentials bearer_auth(std::string token);
credentials digest_auth(std::string user, std::string password);
credentials aws_sigv4_auth(std::string access_key, std::string secret_key, std::string provider);

/// Which addresses of a host name a connection may use.
enum class ip_version {
    any,  ///< curl's default: both, IPv6 first where the machine has it (happy eyeballs)
    v4,
    v6,
};

/// A transfer slower than `bytes_per_second` for `time` ends with `condition::timed_out`: a stall detector
/// for calls that may rightly take long (a download, an event stream) and so have no overall timeout.
struct low_speed_limit {
    std::size_t bytes_per_second = 0;  ///< 0: none
    std::chrono::seconds time{0};
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
    /// For the proxy: basic or digest (anything else: errc::invalid_argument).
    std::optional<credentials> proxy_auth{};
    /// Hosts that go direct although `proxy` is set: "localhost,.internal.example,10.0.0.0/8"
    /// (CURLOPT_NOPROXY).
    std::optional<std::string> no_proxy{};
    std::optional<credentials> auth{};  ///< for the server (basic, bearer, digest, AWS SigV4)

    // ---- where a connection goes ----
    /// "HOST:PORT:ADDRESS[,ADDRESS...]" (an IPv6 address in brackets): HOST:PORT connects to these addresses
    /// without a DNS lookup; the URL, the Host field and TLS keep the name (CURLOPT_RESOLVE). An entry of
    /// another shape is refused before anything is sent (`errc::invalid_argument`, naming the entry). As
    /// curl's option does, the entries go into the DNS cache of the multi (or share) the fetch runs on: later
    /// fetches there to the same HOST:PORT use them too, and so may the connections they opened. To pin one
    /// request only, use `connect_to`.
    std::vector<std::string> resolve{};
    /// "HOST:PORT:CONNECT_HOST:CONNECT_PORT" (any part empty: any host, the same port...): a connection for
    /// HOST:PORT goes to CONNECT_HOST:CONNECT_PORT, the request still names HOST (CURLOPT_CONNECT_TO): how a
    /// request pins a backend when the name in its URL must stay.
    std::vector<std::string> connect_to{};
    /// A Unix-domain socket every connection goes to; the URL still gives the Host field and the target.
    std::optional<std::string> unix_socket_path{};
    ip_version ip = ip_version::any;
    /// The local end: an interface name ("if!eth0"), a local address ("host!127.0.0.2" or "127.0.0.2").
    std::optional<std::string> local_interface{};
    unsigned short local_port = 0;        ///< the first local port to try (0: any)
    unsigned short local_port_range = 1;  ///< how many from `local_port` on to try
    low_speed_limit low_speed{};
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

// Credentials, where a connection goes, its local end, the stall detector and TLS material in memory.
#include <asiocurl/http/detail/connection_options.hpp>
#include <asiocurl/http/detail/exchange.hpp>

#include <boost/beast/core/string.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <string>

namespace asiocurl::http {

credentials basic_auth(std::string user, std::string password) {
    return {credentials::kind::basic, std::move(user), std::move(password), {}};
}
credentials bearer_auth(std::string token) {
    return {credentials::kind::bearer, {}, std::move(token), {}};
}
credentials digest_auth(std::string user, std::string password) {
    return {credentials::kind::digest, std::move(user), std::move(password), {}};
}
credentials aws_sigv4_auth(std::string access_key, std::string secret_key, std::string provider) {
    return {credentials::kind::aws_sigv4, std::move(access_key), std::move(secret_key), std::move(provider)};
}

namespace detail {
namespace {

bool has_nul_or_line_break(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool valid_port(std::string_view text) {
    if (text.empty() || text.size() > 5 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    const int port = std::stoi(std::string(text));
    return port >= 1 && port <= 65535;
}

bool numeric_address(std::string_view text) {
    std::string address(text);
    unsigned char storage[16];
    if (address.size() > 2 && address.front() == '[' && address.back() == ']')
        return inet_pton(AF_INET6, address.substr(1, address.size() - 2).c_str(), storage) == 1;
    return inet_pton(AF_INET, address.c_str(), storage) == 1 ||
           inet_pton(AF_INET6, address.c_str(), storage) == 1;
}

// "HOST:" or "[V6]:" at the front of `rest`: the host, and `rest` moved past its colon.
bool take_host(std::string_view& rest, std::string_view& host) {
    std::size_t end;
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            return false;
        end = close + 1;
    } else {
        end = rest.find(':');
        if (end == std::string_view::npos) return false;
    }
    host = rest.substr(0, end);
    rest.remove_prefix(end + 1);
    return true;
}

bool take_port(std::string_view& rest, std::string_view& port, bool last) {
    const auto end = last ? rest.size() : rest.find(':');
    if (end == std::string_view::npos) return false;
    port = rest.substr(0, end);
    rest.remove_prefix(last ? end : end + 1);
    return true;
}

long curl_auth_bit(credentials::kind kind) {
    switch (kind) {
        case credentials::kind::basic:
            return static_cast<long>(CURLAUTH_BASIC);
        case credentials::kind::bearer:
            return static_cast<long>(CURLAUTH_BEARER);
        case credentials::kind::digest:
            return static_cast<long>(CURLAUTH_DIGEST);
        case credentials::kind::aws_sigv4:
            return static_cast<long>(CURLAUTH_AWS_SIGV4);
        case credentials::kind::none:
            break;
    }
    return 0;
}

bool valid_credentials(const std::optional<credentials>& c) {
    return !c || (!has_nul_or_line_break(c->user) && !has_nul_or_line_break(c->secret) &&
                  !has_nul_or_line_break(c->aws_provider));
}

}  // namespace

bool has_connection_options(const options& o) noexcept {
    return o.auth || o.proxy_auth || o.no_proxy || !o.resolve.empty() || !o.connect_to.empty() ||
           o.unix_socket_path || o.ip != ip_version::any || o.local_interface || o.local_port != 0 ||
           o.low_speed.bytes_per_second != 0 || o.tls.ca_pem || o.tls.client_certificate_pem ||
           o.tls.client_key_pem || o.tls.key_password;
}

void connection_lists::release(CURL* handle) noexcept {
    if (handle && resolve) curl_easy_setopt(handle, CURLOPT_RESOLVE, static_cast<curl_slist*>(nullptr));
    if (handle && connect_to) curl_easy_setopt(handle, CURLOPT_CONNECT_TO, static_cast<curl_slist*>(nullptr));
    curl_slist_free_all(resolve);
    curl_slist_free_all(connect_to);
    resolve = connect_to = nullptr;
}

bool valid_resolve_entry(std::string_view entry) noexcept {
    if (has_nul_or_line_break(entry) || entry.empty()) return false;
    const bool removal = entry.front() == '-';
    if (removal || entry.front() == '+') entry.remove_prefix(1);
    std::string_view host, port;
    if (!take_host(entry, host) || host.empty() || host.front() == '[') return false;
    if (removal) return take_port(entry, port, true) && valid_port(port);
    if (!take_port(entry, port, false) || !valid_port(port) || entry.empty()) return false;
    while (!entry.empty()) {
        const auto comma = entry.find(',');
        if (!numeric_address(entry.substr(0, comma))) return false;
        if (comma == std::string_view::npos) break;
        entry.remove_prefix(comma + 1);
        if (entry.empty()) return false;
    }
    return true;
}

bool valid_connect_to_entry(std::string_view entry) noexcept {
    if (has_nul_or_line_break(entry)) return false;
    std::string_view host, port, connect_host, connect_port;
    if (!take_host(entry, host) || !take_port(entry, port, false) || !take_host(entry, connect_host) ||
        !take_port(entry, connect_port, true))
        return false;
    return (port.empty() || valid_port(port)) && (connect_port.empty() || valid_port(connect_port));
}

error_code check_signed_body(const request_view& request, const options& opts, char* error_buffer) {
    if (!opts.auth || opts.auth->scheme != credentials::kind::aws_sigv4 ||
        (!request.has_body && !request.form))
        return {};
    // curl's field is named after the second provider ("aws:amz:..." -> x-amz-...), or the first alone.
    std::string_view provider = opts.auth->aws_provider;
    if (const auto colon = provider.find(':'); colon != std::string_view::npos)
        provider.remove_prefix(colon + 1);
    provider = provider.substr(0, provider.find(':'));
    if (provider.empty())
        provider = std::string_view(opts.auth->aws_provider).substr(0, opts.auth->aws_provider.find(':'));
    const std::string field = "x-" + std::string(provider) + "-content-sha256";
    const bool has_hash = std::any_of(request.fields.begin(), request.fields.end(),
                                      [&](const auto& f) { return boost::beast::iequals(f.first, field); });
    if (has_hash) return {};
    std::snprintf(
        error_buffer, CURL_ERROR_SIZE,
        "asiocurl: an AWS SigV4 request with a body needs its %s field (the body's SHA-256 in hex, or "
        "UNSIGNED-PAYLOAD): curl would sign an empty body",
        field.c_str());
    return errc::invalid_argument;
}

error_code apply_connection_options(CURL* handle, const options& opts, connection_lists& lists,
                                    char* error_buffer) {
    auto refuse = [&](const char* why) {
        std::snprintf(error_buffer, CURL_ERROR_SIZE, "asiocurl: %s", why);
        return make_error_code(errc::invalid_argument);
    };
    auto refuse_entry = [&](const char* option, std::size_t index) {
        std::snprintf(error_buffer, CURL_ERROR_SIZE, "asiocurl: options::%s entry %zu is malformed", option,
                      index);
        return make_error_code(errc::invalid_argument);
    };
    if (!valid_credentials(opts.auth) || !valid_credentials(opts.proxy_auth))
        return refuse("credentials with CR, LF or NUL");
    if (opts.auth && opts.auth->scheme == credentials::kind::aws_sigv4 && opts.auth->aws_provider.empty())
        return refuse("aws_sigv4 credentials need a provider (\"aws:amz:REGION:SERVICE\")");
    if (opts.proxy_auth && opts.proxy_auth->scheme != credentials::kind::basic &&
        opts.proxy_auth->scheme != credentials::kind::digest)
        return refuse("options::proxy_auth takes basic or digest credentials");
    if (opts.low_speed.bytes_per_second != 0 && opts.low_speed.time.count() <= 0)
        return refuse("options::low_speed needs a time above zero");
    if (opts.local_port_range == 0) return refuse("options::local_port_range is zero");

    CURLcode code = CURLE_OK;
    auto set = [&](CURLoption option, auto value) {
        if (code == CURLE_OK) code = curl_easy_setopt(handle, option, value);
    };
    auto set_text = [&](CURLoption option, const std::optional<std::string>& value) {
        if (value) set(option, value->c_str());
    };
    auto set_blob = [&](CURLoption option, const std::optional<std::string>& pem) {
        if (!pem) return;
        // Copied by curl: the options need not outlive the call.
        curl_blob blob{const_cast<char*>(pem->data()), pem->size(), CURL_BLOB_COPY};
        set(option, &blob);
    };

    if (opts.auth && opts.auth->scheme != credentials::kind::none) {
        const credentials& a = *opts.auth;
        if (a.scheme == credentials::kind::bearer) {
            set(CURLOPT_XOAUTH2_BEARER, a.secret.c_str());
        } else {
            set(CURLOPT_USERNAME, a.user.c_str());
            set(CURLOPT_PASSWORD, a.secret.c_str());
        }
        if (a.scheme == credentials::kind::aws_sigv4)
            set(CURLOPT_AWS_SIGV4, a.aws_provider.c_str());
        else
            set(CURLOPT_HTTPAUTH, curl_auth_bit(a.scheme));
    }
    if (opts.proxy_auth && opts.proxy_auth->scheme != credentials::kind::none) {
        const credentials& a = *opts.proxy_auth;
        set(CURLOPT_PROXYUSERNAME, a.user.c_str());
        set(CURLOPT_PROXYPASSWORD, a.secret.c_str());
        set(CURLOPT_PROXYAUTH, curl_auth_bit(a.scheme));
    }
    set_text(CURLOPT_NOPROXY, opts.no_proxy);

    for (std::size_t i = 0; i < opts.resolve.size(); ++i) {
        if (!valid_resolve_entry(opts.resolve[i])) return refuse_entry("resolve", i);
        curl_slist* longer = curl_slist_append(lists.resolve, opts.resolve[i].c_str());
        if (!longer) return make_error_code(CURLE_OUT_OF_MEMORY);
        lists.resolve = longer;
    }
    for (std::size_t i = 0; i < opts.connect_to.size(); ++i) {
        if (!valid_connect_to_entry(opts.connect_to[i])) return refuse_entry("connect_to", i);
        curl_slist* longer = curl_slist_append(lists.connect_to, opts.connect_to[i].c_str());
        if (!longer) return make_error_code(CURLE_OUT_OF_MEMORY);
        lists.connect_to = longer;
    }
    if (lists.resolve) set(CURLOPT_RESOLVE, lists.resolve);
    if (lists.connect_to) set(CURLOPT_CONNECT_TO, lists.connect_to);
    set_text(CURLOPT_UNIX_SOCKET_PATH, opts.unix_socket_path);
    if (opts.ip == ip_version::v4) set(CURLOPT_IPRESOLVE, static_cast<long>(CURL_IPRESOLVE_V4));
    if (opts.ip == ip_version::v6) set(CURLOPT_IPRESOLVE, static_cast<long>(CURL_IPRESOLVE_V6));
    set_text(CURLOPT_INTERFACE, opts.local_interface);
    if (opts.local_port != 0) {
        set(CURLOPT_LOCALPORT, static_cast<long>(opts.local_port));
        set(CURLOPT_LOCALPORTRANGE, static_cast<long>(opts.local_port_range));
    }
    if (opts.low_speed.bytes_per_second != 0) {
        set(CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(opts.low_speed.bytes_per_second));
        set(CURLOPT_LOW_SPEED_TIME, static_cast<long>(opts.low_speed.time.count()));
    }
    set_blob(CURLOPT_CAINFO_BLOB, opts.tls.ca_pem);
    set_blob(CURLOPT_SSLCERT_BLOB, opts.tls.client_certificate_pem);
    set_blob(CURLOPT_SSLKEY_BLOB, opts.tls.client_key_pem);
    if (opts.tls.client_certificate_pem) set(CURLOPT_SSLCERTTYPE, "PEM");
    if (opts.tls.client_key_pem) set(CURLOPT_SSLKEYTYPE, "PEM");
    set_text(CURLOPT_KEYPASSWD, opts.tls.key_password);
    return code == CURLE_OK ? error_code{} : make_error_code(code);
}

}  // namespace detail
}  // namespace asiocurl::http

// The options of a request beyond its URL and head (src/http/connection_options.cpp): credentials, where a
// connection goes, its local end, the stall detector and TLS material in memory. Set only when a request asks
// for one of them (a reset handle has none), with curl's silent ignorance of a malformed entry turned into a
// refusal.
#ifndef ASIOCURL_HTTP_DETAIL_CONNECTION_OPTIONS_HPP
#define ASIOCURL_HTTP_DETAIL_CONNECTION_OPTIONS_HPP

#include <asiocurl/http/options.hpp>

#include <curl/curl.h>

#include <cstddef>
#include <string_view>

namespace asiocurl::http::detail {

struct request_view;

// Whether `opts` asks for any of them (the handle's options are then not kept for the next exchange).
bool has_connection_options(const options& opts) noexcept;

// The lists curl keeps pointers to while the transfer runs (it reads CONNECT_TO on every connection, a
// redirect's too): the exchange frees them once the transfer is over, after taking them off the handle.
struct connection_lists {
    curl_slist* resolve = nullptr;
    curl_slist* connect_to = nullptr;
    void release(CURL* handle) noexcept;  // off the handle (when given) and freed
};

// Sets them on `handle`. A refusal (errc::invalid_argument) says why in `error_buffer` (CURL_ERROR_SIZE
// bytes), naming the option and entry but never a secret.
error_code apply_connection_options(CURL* handle, const options& opts, connection_lists& lists,
                                    char* error_buffer);

// AWS SigV4 with a request body: curl hashes only a CURLOPT_POSTFIELDS body (the exchange sends through the
// read callback or curl's MIME API), so it would sign the hash of an empty one. It uses the request's own
// "x-<provider>-content-sha256" field instead when there is one: without it, refused with a reason.
error_code check_signed_body(const request_view& request, const options& opts, char* error_buffer);

// "HOST:PORT:ADDRESS[,ADDRESS...]", with "+" (a cache entry that may time out) or "-" (a removal: then only
// "-HOST:PORT") in front; addresses numeric, an IPv6 one with or without brackets; HOST a name or an IPv4
// address (curl 7.88 cannot read a bracketed IPv6 host, 8.x can: refused for both). curl fails a transfer on
// a malformed entry only once it starts, and ignores a malformed removal with a verbose-log line: checked
// here, a mistake is named before anything happens.
bool valid_resolve_entry(std::string_view entry) noexcept;
// "HOST:PORT:CONNECT_HOST:CONNECT_PORT", any part empty, ports 1-65535 when given, an IPv6 host in brackets.
bool valid_connect_to_entry(std::string_view entry) noexcept;

}  // namespace asiocurl::http::detail

#endif

// The non-template half of a fetch (src/http.cpp): curl options from a request and options, the header
// callback, and the transfer's info.
#ifndef ASIOCURL_HTTP_DETAIL_TRANSFER_HPP
#define ASIOCURL_HTTP_DETAIL_TRANSFER_HPP

#include <asiocurl/easy.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::http::detail {

// The request as prepare() needs it, whatever its body and fields types.
struct request_view {
    std::string_view method;
    std::string_view target;
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    bool has_body = false;
    std::optional<std::uint64_t> body_size;  // none: chunked
};

// The response head as curl's header callback delivers it; a new status line (a redirect followed, a 1xx)
// starts over, so the final response's head is what remains.
struct response_head {
    unsigned status = 0;
    unsigned version = 11;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> fields;
};

size_t on_header_line(char* data, size_t size, size_t count, void* head);

// Owns the curl_slist of request headers.
struct header_list {
    curl_slist* list = nullptr;
    header_list() = default;
    header_list(const header_list&) = delete;
    header_list& operator=(const header_list&) = delete;
    ~header_list() { curl_slist_free_all(list); }
};

// Sets every option of the fetch on `handle` (a fresh handle). Refuses, before anything is sent, a URL or
// header with CR, LF or NUL (errc::header_injection) and an origin-form target without a base URL.
error_code prepare(easy& handle, const request_view& request, const options& opts, header_list& headers,
                   response_head& head);

// Reads what curl knows about the finished transfer.
void collect_info(const easy& handle, transfer_info& info);

// A fetch's result with options::max_response_size applied: errc::response_too_large whoever noticed the
// limit — the fetch's write callback (`refused_by_writer`), or curl itself (CURLE_FILESIZE_EXCEEDED).
error_code size_limited_result(error_code ec, const options& opts, bool refused_by_writer);

}  // namespace asiocurl::http::detail

#endif

// A multipart request's curl MIME structure (src/http/multipart.cpp), built on the handle that sends it and
// owned by its exchange.
#ifndef ASIOCURL_HTTP_DETAIL_MIME_FORM_HPP
#define ASIOCURL_HTTP_DETAIL_MIME_FORM_HPP

#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/http/multipart.hpp>

#include <curl/curl.h>

#include <memory>
#include <vector>

namespace asiocurl::http::detail {

class mime_form {
public:
    // Refusals say why in the handle's error buffer (naming the part by position and name).
    static std::unique_ptr<mime_form> build(asiocurl::detail::easy_state& handle, const multipart& parts,
                                            error_code& ec);
    mime_form(const mime_form&) = delete;
    mime_form& operator=(const mime_form&) = delete;
    // curl_mime_free also unbinds the structure from the handle's CURLOPT_MIMEPOST (mime_subparts_unbind), so
    // this may run before the handle is reset or freed, but not while it transfers.
    ~mime_form();

    curl_mime* native() const noexcept { return mime_; }

    struct streamed_part {
        asiocurl::detail::easy_state* handle;
        const multipart::source* read;
    };

private:
    mime_form() = default;
    curl_mime* mime_ = nullptr;
    std::vector<streamed_part> streamed_;  // reserved up front: curl holds pointers to its elements
};

}  // namespace asiocurl::http::detail

#endif

// asiocurl::http::multipart: a multipart/form-data request body (RFC 7578), sent with curl's MIME API.
#ifndef ASIOCURL_HTTP_MULTIPART_HPP
#define ASIOCURL_HTTP_MULTIPART_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace asiocurl::http {

/// The parts of a `multipart/form-data` body: text fields, files in memory, files on disk, and parts read
/// from a source as curl sends them. curl writes the boundary, each part's Content-Disposition (its name and
/// file name escaped as RFC 7578 and the HTML standard do) and Content-Type, and the request's `Content-Type:
/// multipart/form-data; boundary=...` (a Content-Type field of the request is replaced). With a part of
/// unknown length the body goes chunked (HTTP/1.1).
///
/// A name, file name or content type with CR, LF or NUL is refused before anything is sent
/// (`errc::header_injection`); a file on disk that cannot be read, with `errc::invalid_argument` and its part
/// named in the message.
class multipart {
public:
    /// Writes at most `size` bytes of the part to `buffer` and says how many; 0 at the end. Called on the
    /// multi's executor inside curl's read callback, so it must not block; what it throws ends the fetch
    /// (CURLE_ABORTED_BY_CALLBACK). It is read once: a request with such a part is not retried.
    using source = std::function<std::size_t(char* buffer, std::size_t size)>;

    struct part {
        enum class kind { text, memory_file, disk_file, streamed };
        kind what = kind::text;
        std::string name;
        std::string data;  ///< text and memory_file: the bytes; disk_file: the path
        std::optional<std::string> filename;
        std::string content_type;  ///< empty: curl's default (none for text, by extension for a file)
        source read{};             ///< streamed
        std::optional<std::uint64_t> size;  ///< streamed: the length when known (else chunked)
    };

    /// A text field: no file name, no Content-Type unless given.
    multipart& add_text(std::string name, std::string value, std::string content_type = {});
    /// A file whose bytes are in memory.
    multipart& add_file(std::string name, std::string filename, std::string bytes,
                        std::string content_type = "application/octet-stream");
    /// A file on disk, read by curl as it sends it; its file name is the path's last component unless given.
    multipart& add_file_from_disk(std::string name, std::string path, std::string content_type = {},
                                  std::optional<std::string> filename = std::nullopt);
    /// A part read from `read` as curl sends it (`size`: its length, if known).
    multipart& add_stream(std::string name, source read, std::optional<std::string> filename = std::nullopt,
                          std::string content_type = "application/octet-stream",
                          std::optional<std::uint64_t> size = std::nullopt);

    const std::vector<part>& parts() const noexcept { return parts_; }
    /// Whether the whole body can be sent again (no streamed part): http::client retries only such a request.
    bool replayable() const noexcept;

private:
    std::vector<part> parts_;
};

/// The Beast body type of a multipart request: `request<multipart_body> req{verb::post, "/upload", 11};
/// req.body().add_text("title", "x");` then `async_fetch` or `http::client::async_fetch` as with any body.
/// curl produces the bytes itself (CURLOPT_MIMEPOST): it has no Beast writer, so Beast cannot serialize it (a
/// compile error), and `http::stream` refuses it (`errc::invalid_argument`).
struct multipart_body {
    using value_type = multipart;
};

namespace detail {
// The writer a fetch keeps for its request body: the body's own, and for a multipart body (which curl
// sends itself) one that is never asked for bytes.
template <class Body>
struct request_body_writer {
    using type = typename Body::writer;
};
template <>
struct request_body_writer<multipart_body> {
    struct type {
        using const_buffers_type = boost::asio::const_buffer;
        template <bool isRequest, class Fields>
        type(const boost::beast::http::header<isRequest, Fields>&, const multipart&) {}
        void init(error_code& ec) { ec = errc::invalid_argument; }
        boost::optional<std::pair<const_buffers_type, bool>> get(error_code& ec) {
            ec = errc::invalid_argument;
            return boost::none;
        }
    };
};

// A request body curl sends from a part list (multipart_body): the exchange builds curl's MIME structure.
template <class Body>
inline constexpr bool is_multipart_body = std::is_same_v<Body, multipart_body>;

// Whether what a request sends can be sent again (http::client's retries), beyond its type being copyable.
template <class Body, class Fields>
bool body_replayable(const boost::beast::http::request<Body, Fields>& request) noexcept {
    if constexpr (is_multipart_body<Body>)
        return request.body().replayable();
    else
        return true;
}
}  // namespace detail

}  // namespace asiocurl::http

#endif

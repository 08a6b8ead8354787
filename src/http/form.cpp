// application/x-www-form-urlencoded bodies.
#include <asiocurl/http/form.hpp>

namespace asiocurl::http {
namespace {

// WHATWG URL 5.2 "application/x-www-form-urlencoded serializer": the byte kept as is, '+' for a space, else
// %XX (upper-case hex, as the standard's percent-encode).
void append_encoded(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_') {
            out += c;
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        }
    }
}

}  // namespace

url_encoded_form::url_encoded_form(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    for (const auto& [name, value] : fields)
        add(name, value);
}

url_encoded_form& url_encoded_form::add(std::string_view name, std::string_view value) {
    if (!encoded_.empty()) encoded_ += '&';
    append_encoded(encoded_, name);
    encoded_ += '=';
    append_encoded(encoded_, value);
    return *this;
}

boost::beast::http::request<boost::beast::http::string_body> form_request(url_ref target,
                                                                          const url_encoded_form& form,
                                                                          boost::beast::http::verb method) {
    boost::beast::http::request<boost::beast::http::string_body> request(method, target.text(), 11);
    request.set(boost::beast::http::field::content_type, url_encoded_form::content_type);
    request.body() = form.encoded();
    request.prepare_payload();
    return request;
}

}  // namespace asiocurl::http

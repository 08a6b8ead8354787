// asiocurl::http::url_encoded_form: an HTML form's name/value pairs as a request body.
#ifndef ASIOCURL_HTTP_FORM_HPP
#define ASIOCURL_HTTP_FORM_HPP

#include <asiocurl/http/url.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace asiocurl::http {

/// `application/x-www-form-urlencoded` as the WHATWG URL standard (5.2) serializes it: "name=value" pairs
/// joined by '&', a space as '+', every byte but ASCII letters, digits and "*-._" percent-encoded (so a '&',
/// '=' or '+' in a name or value stays data).
class url_encoded_form {
public:
    static constexpr std::string_view content_type = "application/x-www-form-urlencoded";

    url_encoded_form() = default;
    url_encoded_form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

    url_encoded_form& add(std::string_view name, std::string_view value);
    const std::string& encoded() const noexcept { return encoded_; }

private:
    std::string encoded_;
};

/// A request that sends `form` (POST unless said otherwise) with its Content-Type and length set.
boost::beast::http::request<boost::beast::http::string_body> form_request(
    url_ref target, const url_encoded_form& form,
    boost::beast::http::verb method = boost::beast::http::verb::post);

}  // namespace asiocurl::http

#endif

// asiocurl::http::cookie_jar: cookies kept in a curl share between fetches.
#include <asiocurl/easy.hpp>
#include <asiocurl/http/cookie_jar.hpp>

namespace asiocurl::http {

cookie_jar::cookie_jar()
    : share_(std::make_shared<asiocurl::share>(asiocurl::share_options{
          .dns = false, .tls_sessions = false, .public_suffix_list = false, .cookies = true})) {}

cookie_jar::cookie_jar(std::shared_ptr<asiocurl::share> cookies_share) : share_(std::move(cookies_share)) {
    if (!share_ || !share_->holds(CURL_LOCK_DATA_COOKIE))
        throw system_error(errc::invalid_argument, "asiocurl::http::cookie_jar: the share holds no cookies");
}

// The share is only reachable through an easy handle: a scratch one reads and writes it.
void cookie_jar::apply(const char* command_or_line) const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, native_handle());
    scratch.set(CURLOPT_COOKIELIST, command_or_line);
}

std::vector<std::string> cookie_jar::cookies() const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, native_handle());
    curl_slist* list = scratch.info<curl_slist*>(CURLINFO_COOKIELIST);
    std::vector<std::string> out;
    for (curl_slist* item = list; item; item = item->next)
        out.emplace_back(item->data);
    curl_slist_free_all(list);
    return out;
}

void cookie_jar::add(std::string_view line) {
    if (line.find_first_of("\r\n", 0, 3) != std::string_view::npos)
        throw system_error(errc::header_injection, "asiocurl::http::cookie_jar::add");
    const std::string text(line);
    asiocurl::detail::share_access::change_cookies(*share_, "asiocurl::http::cookie_jar::add",
                                                   [&] { apply(text.c_str()); });
}

void cookie_jar::clear() {
    asiocurl::detail::share_access::change_cookies(*share_, "asiocurl::http::cookie_jar::clear",
                                                   [&] { apply("ALL"); });
}

}  // namespace asiocurl::http

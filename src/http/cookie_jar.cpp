// asiocurl::http::cookie_jar: cookies kept in a curl share between fetches.
#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/easy.hpp>
#include <asiocurl/http/cookie_jar.hpp>

#include <new>

namespace asiocurl::http {

cookie_jar::cookie_jar() : share_(curl_share_init()) {
    if (!share_) throw std::bad_alloc();
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, &cookie_jar::lock);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, &cookie_jar::unlock);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, this);
}

cookie_jar::~cookie_jar() {
    curl_share_cleanup(share_);
}

void cookie_jar::lock(CURL*, curl_lock_data, curl_lock_access, void* self) {
    static_cast<cookie_jar*>(self)->mutex_.lock();
}
void cookie_jar::unlock(CURL*, curl_lock_data, void* self) {
    static_cast<cookie_jar*>(self)->mutex_.unlock();
}

bool cookie_jar::take(const boost::asio::any_io_executor& executor) {
    std::lock_guard lock(users_mutex_);
    if (users_ > 0 && *user_executor_ != executor) return false;
    if (users_ == 0) user_executor_ = executor;
    ++users_;
    return true;
}

void cookie_jar::give_back() noexcept {
    std::lock_guard lock(users_mutex_);
    if (--users_ == 0) user_executor_.reset();
}

// A cookie freed here while a transfer on another thread still uses the list curl matched would be used
// after free; on the transfers' own thread, none is inside curl.
void cookie_jar::check_writable(const char* what) const {
    std::lock_guard lock(users_mutex_);
    if (users_ > 0 && !asiocurl::detail::running_in_this_thread(*user_executor_))
        throw system_error(errc::cookie_jar_in_use, what);
}

// The share is only reachable through an easy handle: a scratch one reads and writes it.
void cookie_jar::apply(const char* command_or_line) const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, share_);
    scratch.set(CURLOPT_COOKIELIST, command_or_line);
}

std::vector<std::string> cookie_jar::cookies() const {
    easy scratch;
    scratch.set(CURLOPT_SHARE, share_);
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
    check_writable("asiocurl::http::cookie_jar::add");
    apply(std::string(line).c_str());
}

void cookie_jar::clear() {
    check_writable("asiocurl::http::cookie_jar::clear");
    apply("ALL");
}

}  // namespace asiocurl::http

// asiocurl::share: a CURLSH with a lock per kind of data (share.hpp).
#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/detail/global_init.hpp>
#include <asiocurl/share.hpp>

#include <new>

namespace asiocurl {
namespace {

unsigned bit(int kind) {
    return 1u << static_cast<unsigned>(kind);
}

}  // namespace

share::share(const share_options& options) {
    // curl documents connection sharing between concurrent threads as unsupported, and a share is for
    // threads: refused before anything is made.
    if (options.connections)
        throw system_error(errc::unsafe_share,
                           "asiocurl::share: connections cannot be shared between threads");
    detail::ensure_curl_global_init();
    handle_ = curl_share_init();
    if (!handle_) throw std::bad_alloc();
    // The callbacks first: curl may lock as soon as a handle uses the share.
    curl_share_setopt(handle_, CURLSHOPT_LOCKFUNC, &share::lock);
    curl_share_setopt(handle_, CURLSHOPT_UNLOCKFUNC, &share::unlock);
    curl_share_setopt(handle_, CURLSHOPT_USERDATA, static_cast<void*>(this));
    const struct {
        bool wanted;
        int kind;
    } kinds[] = {{options.dns, CURL_LOCK_DATA_DNS},
                 {options.tls_sessions, CURL_LOCK_DATA_SSL_SESSION},
                 {options.public_suffix_list, CURL_LOCK_DATA_PSL},
                 {options.cookies, CURL_LOCK_DATA_COOKIE}};
    for (const auto& [wanted, kind] : kinds) {
        if (!wanted) continue;
        const CURLSHcode code = curl_share_setopt(handle_, CURLSHOPT_SHARE, static_cast<long>(kind));
        if (code == CURLSHE_OK) {
            held_kinds_ |= bit(kind);
        } else if (code != CURLSHE_NOT_BUILT_IN) {  // what the linked curl lacks is left out (holds() says)
            curl_share_cleanup(handle_);
            throw system_error(make_error_code(code), "asiocurl::share");
        }
    }
}

share::~share() {
    curl_share_cleanup(handle_);
}

bool share::holds(curl_lock_data kind) const noexcept {
    const int k = static_cast<int>(kind);
    return k >= 0 && k < 32 && (held_kinds_ & bit(k)) != 0;
}

share_stats share::stats() const noexcept {
    auto counts = [this](int kind) {
        const kind_lock& l = locks_[static_cast<std::size_t>(kind)];
        return share_stats::lock_counts{l.taken.load(std::memory_order_relaxed),
                                        l.contended.load(std::memory_order_relaxed)};
    };
    share_stats out;
    out.dns = counts(CURL_LOCK_DATA_DNS);
    out.tls_sessions = counts(CURL_LOCK_DATA_SSL_SESSION);
    out.public_suffix_list = counts(CURL_LOCK_DATA_PSL);
    out.cookies = counts(CURL_LOCK_DATA_COOKIE);
    out.share = counts(CURL_LOCK_DATA_SHARE);
    return out;
}

// curl asks for shared or single access; every lock here is exclusive (curl takes each one briefly).
void share::lock(CURL*, curl_lock_data kind, curl_lock_access, void* self) {
    auto& s = *static_cast<share*>(self);
    const auto index = static_cast<std::size_t>(kind);
    kind_lock& l = s.locks_[index < s.locks_.size() ? index : 0];
    if (!l.mutex.try_lock()) {
        l.contended.fetch_add(1, std::memory_order_relaxed);
        l.mutex.lock();
    }
    l.taken.fetch_add(1, std::memory_order_relaxed);
}

void share::unlock(CURL*, curl_lock_data kind, void* self) {
    auto& s = *static_cast<share*>(self);
    const auto index = static_cast<std::size_t>(kind);
    s.locks_[index < s.locks_.size() ? index : 0].mutex.unlock();
}

bool share::take(const boost::asio::any_io_executor& executor) {
    if (!holds(CURL_LOCK_DATA_COOKIE)) return true;
    std::lock_guard lock(users_mutex_);
    if (users_ > 0 && *user_executor_ != executor) return false;
    if (users_ == 0) user_executor_ = executor;
    ++users_;
    return true;
}

void share::give_back() noexcept {
    if (!holds(CURL_LOCK_DATA_COOKIE)) return;
    std::lock_guard lock(users_mutex_);
    if (users_ > 0 && --users_ == 0) user_executor_.reset();
}

// curl uses the cookies it matched for a request after letting go of the lock: a cookie freed from another
// thread meanwhile would be used after free. On the transfers' own thread none is inside curl.
void share::check_cookies_writable(const char* what) const {
    if (users_ > 0 && !detail::running_in_this_thread(*user_executor_))
        throw system_error(errc::cookie_jar_in_use, what);
}

}  // namespace asiocurl

#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/detail/global_init.hpp>
#include <asiocurl/easy.hpp>

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace asiocurl {
namespace detail {

void ensure_curl_global_init() {
    static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (result != CURLE_OK) throw_error(make_error_code(result), "curl_global_init");
}

void apply_library_defaults(easy_state& state) noexcept {
    // Signals (curl's alarm()-based resolve timeout) are process-wide and cannot coexist with an event loop
    // or threads (DESIGN rule 11).
    curl_easy_setopt(state.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(state.handle, CURLOPT_ERRORBUFFER, state.error_buffer);
    curl_easy_setopt(state.handle, CURLOPT_PRIVATE, static_cast<void*>(&state));
}

void throw_error(const error_code& ec, const char* what) {
    throw system_error(ec, what);
}

namespace {

// The option's kind comes from its number range (curl.h: CURLOPTTYPE_*); for object pointers curl's option
// table tells strings from lists and opaque pointers.
enum class option_kind { integer, off_t, string, slist, pointer, function, blob, unknown };

option_kind kind_of(CURLoption option) {
    const int id = static_cast<int>(option);
    if (id < CURLOPTTYPE_OBJECTPOINT) return option_kind::integer;
    if (id < CURLOPTTYPE_FUNCTIONPOINT) {
        const curl_easyoption* described = curl_easy_option_by_id(option);
        if (!described) return option_kind::unknown;
        switch (described->type) {
            case CURLOT_STRING:
                return option_kind::string;
            case CURLOT_SLIST:
                return option_kind::slist;
            default:
                return option_kind::pointer;
        }
    }
    if (id < CURLOPTTYPE_OFF_T) return option_kind::function;
    if (id < CURLOPTTYPE_BLOB) return option_kind::off_t;
    return option_kind::blob;
}

error_code result(CURLcode code) {
    return code == CURLE_OK ? error_code{} : make_error_code(code);
}

template <class Writer>
size_t append_to(char* data, size_t size, size_t count, void* userdata) {
    auto& body = *static_cast<Writer*>(userdata);
    body.insert(body.end(), data, data + size * count);
    return size * count;
}

size_t discard(char*, size_t size, size_t count, void*) {
    return size * count;
}

}  // namespace

error_code setopt_integer(CURL* handle, CURLoption option, long long value) {
    switch (kind_of(option)) {
        case option_kind::integer:
            if (value < LONG_MIN || value > LONG_MAX) return errc::invalid_argument;
            return result(curl_easy_setopt(handle, option, static_cast<long>(value)));
        case option_kind::off_t:
            return result(curl_easy_setopt(handle, option, static_cast<curl_off_t>(value)));
        default:
            return errc::wrong_option_type;
    }
}

error_code setopt_c_string(CURL* handle, CURLoption option, const char* value) {
    // Object options take char data too (CURLOPT_POSTFIELDS, which curl does not copy).
    const option_kind kind = kind_of(option);
    if (kind != option_kind::string && kind != option_kind::pointer) return errc::wrong_option_type;
    return result(curl_easy_setopt(handle, option, value));
}

error_code setopt_string(CURL* handle, CURLoption option, std::string_view value) {
    if (kind_of(option) != option_kind::string) return errc::wrong_option_type;
    // curl reads a C string: a NUL inside the view would silently cut the value short.
    if (value.find('\0') != std::string_view::npos) return errc::invalid_argument;
    const std::string terminated(value);
    return result(curl_easy_setopt(handle, option, terminated.c_str()));
}

error_code setopt_slist(CURL* handle, CURLoption option, curl_slist* value) {
    if (kind_of(option) != option_kind::slist) return errc::wrong_option_type;
    return result(curl_easy_setopt(handle, option, value));
}

error_code setopt_pointer(CURL* handle, CURLoption option, void* value) {
    const option_kind kind = kind_of(option);
    if (kind != option_kind::pointer && kind != option_kind::slist && kind != option_kind::blob)
        return errc::wrong_option_type;
    return result(curl_easy_setopt(handle, option, value));
}

error_code setopt_function(CURL* handle, CURLoption option, void (*value)()) {
    if (kind_of(option) != option_kind::function) return errc::wrong_option_type;
    return result(curl_easy_setopt(handle, option, value));
}

error_code setopt_null(CURL* handle, CURLoption option) {
    switch (kind_of(option)) {
        case option_kind::string:
        case option_kind::slist:
        case option_kind::pointer:
        case option_kind::blob:
            return result(curl_easy_setopt(handle, option, static_cast<void*>(nullptr)));
        case option_kind::function:
            return result(curl_easy_setopt(handle, option, nullptr));
        default:
            return errc::wrong_option_type;
    }
}

namespace {
error_code check_info_kind(CURLINFO what, int expected) {
    return (what & CURLINFO_TYPEMASK) == expected ? error_code{} : error_code{errc::wrong_option_type};
}
}  // namespace

error_code getinfo_long(CURL* handle, CURLINFO what, long& out) {
    if (auto ec = check_info_kind(what, CURLINFO_LONG)) return ec;
    return result(curl_easy_getinfo(handle, what, &out));
}
error_code getinfo_off_t(CURL* handle, CURLINFO what, curl_off_t& out) {
    if (auto ec = check_info_kind(what, CURLINFO_OFF_T)) return ec;
    return result(curl_easy_getinfo(handle, what, &out));
}
error_code getinfo_double(CURL* handle, CURLINFO what, double& out) {
    if (auto ec = check_info_kind(what, CURLINFO_DOUBLE)) return ec;
    return result(curl_easy_getinfo(handle, what, &out));
}
error_code getinfo_string(CURL* handle, CURLINFO what, const char*& out) {
    if (auto ec = check_info_kind(what, CURLINFO_STRING)) return ec;
    char* text = nullptr;
    auto ec = result(curl_easy_getinfo(handle, what, &text));
    out = text;
    return ec;
}
error_code getinfo_slist(CURL* handle, CURLINFO what, curl_slist*& out) {
    if (auto ec = check_info_kind(what, CURLINFO_SLIST)) return ec;
    return result(curl_easy_getinfo(handle, what, &out));
}
error_code getinfo_socket(CURL* handle, CURLINFO what, curl_socket_t& out) {
    if (auto ec = check_info_kind(what, CURLINFO_SOCKET)) return ec;
    return result(curl_easy_getinfo(handle, what, &out));
}

}  // namespace detail

easy::easy() : state_(std::make_unique<detail::easy_state>()) {
    detail::ensure_curl_global_init();
    state_->handle = curl_easy_init();
    if (!state_->handle) detail::throw_error(make_error_code(CURLE_OUT_OF_MEMORY), "curl_easy_init");
    detail::apply_library_defaults(*state_);
}

easy::easy(easy&& other) noexcept = default;

easy& easy::operator=(easy&& other) noexcept {
    if (this != &other) {
        easy dying(std::move(*this));
        state_ = std::move(other.state_);
    }
    return *this;
}

easy::~easy() {
    if (!state_) return;
    // curl_easy_cleanup of a handle still in a multi would leave the multi's operation dangling: the multi
    // removes it and completes its operation with operation_aborted first.
    if (state_->busy() && state_->transfer.abandon(state_->transfer.runner, *state_)) {
        (void)state_.release();
        return;
    }
    curl_easy_cleanup(state_->handle);
}

CURL* easy::native_handle() const noexcept {
    return state_ ? state_->handle : nullptr;
}

bool easy::busy() const noexcept {
    return state_ && state_->busy();
}

void easy::reset() {
    if (!state_) detail::throw_error(errc::empty_handle, "asiocurl::easy::reset");
    if (state_->busy()) detail::throw_error(errc::easy_in_use, "asiocurl::easy::reset");
    curl_easy_reset(state_->handle);
    state_->error_buffer[0] = '\0';
    detail::apply_library_defaults(*state_);
}

std::string_view easy::error_message() const noexcept {
    return state_ ? std::string_view(state_->error_buffer) : std::string_view();
}

void easy::write_to(std::string& body) {
    set(CURLOPT_WRITEFUNCTION, &detail::append_to<std::string>);
    set(CURLOPT_WRITEDATA, &body);
}

void easy::write_to(std::vector<char>& body) {
    set(CURLOPT_WRITEFUNCTION, &detail::append_to<std::vector<char>>);
    set(CURLOPT_WRITEDATA, &body);
}

void easy::discard_body() {
    set(CURLOPT_WRITEFUNCTION, &detail::discard);
    set(CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
}

}  // namespace asiocurl

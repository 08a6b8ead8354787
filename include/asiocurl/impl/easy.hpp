#ifndef ASIOCURL_IMPL_EASY_HPP
#define ASIOCURL_IMPL_EASY_HPP

#include <concepts>
#include <cstddef>
#include <type_traits>

namespace asiocurl {
namespace detail {

// Typed entry points into curl_easy_setopt / curl_easy_getinfo (src/easy.cpp); each checks that the
// value's kind matches the option's before curl sees it, because curl's varargs cannot.
error_code setopt_integer(CURL* handle, CURLoption option, long long value);
error_code setopt_string(easy_state& state, CURLoption option, std::string_view value);
error_code setopt_slist(CURL* handle, CURLoption option, curl_slist* value);
error_code setopt_c_string(easy_state& state, CURLoption option, const char* value);
// These see the data callbacks and their data pointers (user_callbacks in detail/easy_state.hpp).
error_code setopt_pointer(easy_state& state, CURLoption option, void* value);
error_code setopt_function(easy_state& state, CURLoption option, void (*value)());
error_code setopt_null(easy_state& state, CURLoption option);

error_code getinfo_long(CURL* handle, CURLINFO what, long& out);
error_code getinfo_off_t(CURL* handle, CURLINFO what, curl_off_t& out);
error_code getinfo_double(CURL* handle, CURLINFO what, double& out);
error_code getinfo_string(CURL* handle, CURLINFO what, const char*& out);
error_code getinfo_slist(CURL* handle, CURLINFO what, curl_slist*& out);
error_code getinfo_socket(CURL* handle, CURLINFO what, curl_socket_t& out);

[[noreturn]] void throw_error(const error_code& ec, const char* what);

}  // namespace detail

template <class T>
void easy::set(CURLoption option, const T& value, error_code& ec) {
    CURL* handle = native_handle();
    if (!handle) {
        ec = errc::empty_handle;
        return;
    }
    if constexpr (std::is_same_v<T, bool>) {
        ec = detail::setopt_integer(handle, option, value ? 1 : 0);
    } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
        ec = detail::setopt_integer(handle, option, static_cast<long long>(value));
    } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
        ec = detail::setopt_null(*state_, option);
    } else if constexpr (std::is_convertible_v<const T&, const char*>) {
        ec = detail::setopt_c_string(*state_, option, value);
    } else if constexpr (std::is_same_v<T, std::string>) {
        // Already NUL-terminated: no copy, only the check for an embedded NUL.
        ec = value.find('\0') != std::string::npos ? error_code(errc::invalid_argument)
                                                   : detail::setopt_c_string(*state_, option, value.c_str());
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        ec = detail::setopt_string(*state_, option, std::string_view(value));
    } else if constexpr (std::is_same_v<T, curl_slist*>) {
        ec = detail::setopt_slist(handle, option, value);
    } else if constexpr (std::is_pointer_v<T> && std::is_function_v<std::remove_pointer_t<T>>) {
        ec = detail::setopt_function(*state_, option, reinterpret_cast<void (*)()>(value));
    } else if constexpr (std::is_pointer_v<T>) {
        ec = detail::setopt_pointer(*state_, option,
                                    const_cast<void*>(static_cast<const volatile void*>(value)));
    } else {
        static_assert(sizeof(T) == 0, "asiocurl::easy::set: no curl option takes a value of this type");
    }
}

template <class T>
void easy::set(CURLoption option, const T& value) {
    error_code ec;
    set(option, value, ec);
    if (ec) detail::throw_error(ec, "asiocurl::easy::set");
}

template <class T>
T easy::info(CURLINFO what, error_code& ec) const {
    CURL* handle = native_handle();
    T out{};
    if (!handle) {
        ec = errc::empty_handle;
        return out;
    }
    if constexpr (std::is_same_v<T, double>) {
        ec = detail::getinfo_double(handle, what, out);
    } else if constexpr (std::is_same_v<T, const char*>) {
        ec = detail::getinfo_string(handle, what, out);
    } else if constexpr (std::is_same_v<T, std::string>) {
        const char* text = nullptr;
        ec = detail::getinfo_string(handle, what, text);
        if (text) out = text;
    } else if constexpr (std::is_same_v<T, curl_slist*>) {
        ec = detail::getinfo_slist(handle, what, out);
    } else if constexpr (std::is_integral_v<T>) {
        // curl_off_t, long and curl_socket_t may be one type: the info's own type decides.
        const int kind = what & CURLINFO_TYPEMASK;
        if (kind == CURLINFO_OFF_T) {
            curl_off_t value = 0;
            ec = detail::getinfo_off_t(handle, what, value);
            out = static_cast<T>(value);
        } else if (kind == CURLINFO_SOCKET) {
            curl_socket_t value = CURL_SOCKET_BAD;
            ec = detail::getinfo_socket(handle, what, value);
            out = static_cast<T>(value);
        } else {
            long value = 0;
            ec = detail::getinfo_long(handle, what, value);
            out = static_cast<T>(value);
        }
    } else {
        static_assert(sizeof(T) == 0, "asiocurl::easy::info: no CURLINFO has this type");
    }
    return out;
}

template <class T>
T easy::info(CURLINFO what) const {
    error_code ec;
    T out = info<T>(what, ec);
    if (ec) detail::throw_error(ec, "asiocurl::easy::info");
    return out;
}

}  // namespace asiocurl

#endif

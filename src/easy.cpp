#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/detail/global_init.hpp>
#include <asiocurl/detail/origin_key.hpp>
#include <asiocurl/easy.hpp>
#include <asiocurl/share.hpp>

#include <strings.h>  // strncasecmp
#include <sys/socket.h>
#include <unistd.h>  // environ
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

namespace asiocurl {
namespace detail {

void ensure_curl_global_init() {
    static const CURLcode result = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (result != CURLE_OK) throw_error(make_error_code(result), "curl_global_init");
}

namespace {

// Any variable named *_proxy or *_PROXY (no_proxy, http_proxy, HTTPS_PROXY, all_proxy, ws_proxy, ...): one
// pass over the environment instead of a list of curl's names that a newer curl might extend.
bool environment_names_a_proxy() noexcept {
    constexpr std::string_view suffix = "_proxy";
    for (char** entry = environ; entry && *entry; ++entry) {
        const char* end = std::strchr(*entry, '=');
        if (!end) continue;
        const std::string_view name(*entry, static_cast<std::size_t>(end - *entry));
        if (name.size() >= suffix.size() &&
            strncasecmp(name.data() + name.size() - suffix.size(), suffix.data(), suffix.size()) == 0)
            return true;
    }
    return false;
}

curl_socket_t open_socket_forwarder(void* data, curlsocktype purpose, curl_sockaddr* address) {
    auto& t = static_cast<easy_state*>(data)->transfer;
    if (t.runner && t.open_socket) return t.open_socket(t.runner, purpose, address);
    return ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}
}  // namespace

void apply_library_defaults(easy_state& state) noexcept {
    // Signals (curl's alarm()-based resolve timeout) are process-wide and cannot coexist with an event loop
    // or threads (DESIGN rule 11).
    curl_easy_setopt(state.handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(state.handle, CURLOPT_ERRORBUFFER, state.error_buffer);
    curl_easy_setopt(state.handle, CURLOPT_PRIVATE, static_cast<void*>(&state));
    // DESIGN rule 13: removing a handle in the middle of a lookup makes curl join its resolver thread, which
    // blocks the reactor until getaddrinfo gives up (seconds with a dead nameserver). With QUICK_EXIT curl
    // leaves the thread to finish on its own; its memory and socketpair end are freed when the lookup
    // returns.
    curl_easy_setopt(state.handle, CURLOPT_QUICK_EXIT, 1L);
    // Set once here, not per transfer: the data is the state, valid as long as the handle.
    curl_easy_setopt(state.handle, CURLOPT_OPENSOCKETFUNCTION, &open_socket_forwarder);
    curl_easy_setopt(state.handle, CURLOPT_OPENSOCKETDATA, static_cast<void*>(&state));
    // curl looks for a proxy in the environment on every transfer (url.c: no_proxy and NO_PROXY, then the
    // scheme's *_proxy and all_proxy: up to seven getenv scans of the whole environment, ~2,000 instructions
    // with the strdups, of a 70,000-instruction keep-alive request). When the environment names no proxy as
    // the handle is set up, empty strings tell curl the same once ("" is "no proxy" and "no exceptions"). A
    // proxy variable set after that is not seen by this handle until it is reset; one set before is honoured
    // exactly as curl does.
    if (!environment_names_a_proxy()) {
        curl_easy_setopt(state.handle, CURLOPT_PROXY, "");
        curl_easy_setopt(state.handle, CURLOPT_NOPROXY, "");
    }
}

void reset_lent(easy_state& state) noexcept {
    curl_easy_setopt(state.handle, CURLOPT_SHARE, static_cast<CURLSH*>(nullptr));
    curl_easy_setopt(state.handle, CURLOPT_COOKIEFILE, static_cast<char*>(nullptr));
    curl_easy_setopt(state.handle, CURLOPT_COOKIELIST, "ALL");
    // curl_easy_reset forgets CURLOPT_RESOLVE's list but not the pointer the next transfer start reads
    // (data->state.resolve, cleared only when the list is loaded or set again): a list set by a transfer that
    // never started would be read freed by the next one.
    curl_easy_setopt(state.handle, CURLOPT_RESOLVE, static_cast<curl_slist*>(nullptr));
    curl_easy_reset(state.handle);
    state.callbacks = {};
    state.applied_options.reset();
    state.parsed_url_text.clear();  // curl_easy_reset forgot CURLOPT_CURLU, and the callbacks
    state.exchange_callbacks = false;
    state.close_reports = false;
    apply_library_defaults(state);
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

// ---- the forwarders of the data callbacks (DESIGN rule 12) ----
// Each refuses when the transfer's outcome is decided already (the easy destroyed, the transfer cancelled,
// its multi shut down), also right after the user's callback returns: that callback may be what destroyed
// the easy or cancelled the transfer, and curl would otherwise go on with it in the same call. A refusal
// makes curl end the transfer there; the multi completes it with operation_aborted.

size_t forward_write(char* data, size_t size, size_t count, void* self) {
    auto& state = *static_cast<easy_state*>(self);
    if (state.aborted()) return CURL_WRITEFUNC_ERROR;
    const size_t taken = state.callbacks.write(data, size, count, state.callbacks.write_data);
    return state.aborted() ? CURL_WRITEFUNC_ERROR : taken;
}

size_t forward_header(char* data, size_t size, size_t count, void* self) {
    auto& state = *static_cast<easy_state*>(self);
    if (state.aborted()) return CURL_WRITEFUNC_ERROR;
    // curl's own rule: without a header function, header data set means "headers to the write function".
    const curl_write_callback callback =
        state.callbacks.header ? state.callbacks.header : state.callbacks.write;
    const size_t taken = callback(data, size, count, state.callbacks.header_data);
    return state.aborted() ? CURL_WRITEFUNC_ERROR : taken;
}

size_t forward_read(char* buffer, size_t size, size_t count, void* self) {
    auto& state = *static_cast<easy_state*>(self);
    if (state.aborted()) return CURL_READFUNC_ABORT;
    const size_t given = state.callbacks.read(buffer, size, count, state.callbacks.read_data);
    return state.aborted() ? CURL_READFUNC_ABORT : given;
}

int forward_xferinfo(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    auto& state = *static_cast<easy_state*>(self);
    if (state.aborted()) return 1;
    const int verdict =
        state.callbacks.xferinfo(state.callbacks.xferinfo_data, dltotal, dlnow, ultotal, ulnow);
    return state.aborted() ? 1 : verdict;
}

// What curl is given for one callback and its data: the forwarder with the state, or (no callback set)
// curl's default with the user's data as it is (a FILE* for fwrite/fread).
template <class Callback>
CURLcode install(easy_state& state, CURLoption function_option, CURLoption data_option, Callback forwarder,
                 bool forwarded, void* user_data) {
    CURLcode code = curl_easy_setopt(state.handle, function_option, forwarded ? forwarder : nullptr);
    if (code == CURLE_OK)
        code =
            curl_easy_setopt(state.handle, data_option, forwarded ? static_cast<void*>(&state) : user_data);
    return code;
}

CURLcode install_header(easy_state& state) {
    const auto& c = state.callbacks;
    return install(state, CURLOPT_HEADERFUNCTION, CURLOPT_HEADERDATA, &forward_header,
                   c.header || (c.write && c.header_data), c.header_data);
}

CURLcode install_write(easy_state& state) {
    const CURLcode code = install(state, CURLOPT_WRITEFUNCTION, CURLOPT_WRITEDATA, &forward_write,
                                  state.callbacks.write != nullptr, state.callbacks.write_data);
    return code == CURLE_OK ? install_header(state)
                            : code;  // the header forwarder may use the write function
}

CURLcode install_read(easy_state& state) {
    return install(state, CURLOPT_READFUNCTION, CURLOPT_READDATA, &forward_read,
                   state.callbacks.read != nullptr, state.callbacks.read_data);
}

CURLcode install_xferinfo(easy_state& state) {
    return install(state, CURLOPT_XFERINFOFUNCTION, CURLOPT_XFERINFODATA, &forward_xferinfo,
                   state.callbacks.xferinfo != nullptr, state.callbacks.xferinfo_data);
}

// The data callbacks and their data, set through the forwarders; false for any other option.
bool set_forwarded_function(easy_state& state, CURLoption option, void (*value)(), error_code& ec) {
    auto& c = state.callbacks;
    switch (option) {
        case CURLOPT_WRITEFUNCTION:
            c.write = reinterpret_cast<curl_write_callback>(value);
            ec = result(install_write(state));
            return true;
        case CURLOPT_HEADERFUNCTION:
            c.header = reinterpret_cast<curl_write_callback>(value);
            ec = result(install_header(state));
            return true;
        case CURLOPT_READFUNCTION:
            c.read = reinterpret_cast<curl_read_callback>(value);
            ec = result(install_read(state));
            return true;
        case CURLOPT_XFERINFOFUNCTION:
            c.xferinfo = reinterpret_cast<curl_xferinfo_callback>(value);
            ec = result(install_xferinfo(state));
            return true;
        default:
            return false;
    }
}

bool set_forwarded_data(easy_state& state, CURLoption option, void* value, error_code& ec) {
    auto& c = state.callbacks;
    switch (option) {
        case CURLOPT_WRITEDATA:
            c.write_data = value;
            ec = result(install_write(state));
            return true;
        case CURLOPT_HEADERDATA:
            c.header_data = value;
            ec = result(install_header(state));
            return true;
        case CURLOPT_READDATA:
            c.read_data = value;
            ec = result(install_read(state));
            return true;
        case CURLOPT_XFERINFODATA:  // also CURLOPT_PROGRESSDATA: one option
            c.xferinfo_data = value;
            ec = result(install_xferinfo(state));
            return true;
        default:
            return false;
    }
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

error_code setopt_c_string(easy_state& state, CURLoption option, const char* value) {
    // Object options take char data too (CURLOPT_POSTFIELDS, which curl does not copy).
    const option_kind kind = kind_of(option);
    if (kind != option_kind::string && kind != option_kind::pointer) return errc::wrong_option_type;
    if (kind == option_kind::pointer) return setopt_pointer(state, option, const_cast<char*>(value));
    const error_code ec = result(curl_easy_setopt(state.handle, option, value));
    if (!ec && option == CURLOPT_URL) state.origin = value ? origin_key(value) : 0;
    return ec;
}

error_code setopt_string(easy_state& state, CURLoption option, std::string_view value) {
    if (kind_of(option) != option_kind::string) return errc::wrong_option_type;
    // curl reads a C string: a NUL inside the view would silently cut the value short.
    if (value.find('\0') != std::string_view::npos) return errc::invalid_argument;
    const std::string terminated(value);
    const error_code ec = result(curl_easy_setopt(state.handle, option, terminated.c_str()));
    if (!ec && option == CURLOPT_URL) state.origin = origin_key(value);
    return ec;
}

error_code setopt_slist(CURL* handle, CURLoption option, curl_slist* value) {
    if (kind_of(option) != option_kind::slist) return errc::wrong_option_type;
    return result(curl_easy_setopt(handle, option, value));
}

// Options the library sets itself: a value from elsewhere would silently break it.
static error_code check_not_owned(const easy_state& state, CURLoption option) {
    switch (option) {
        case CURLOPT_PRIVATE:              // the state, found from the handle in curl's messages
        case CURLOPT_ERRORBUFFER:          // error_message()
        case CURLOPT_CLOSESOCKETFUNCTION:  // DESIGN rule 4's second guard
        case CURLOPT_CLOSESOCKETDATA:
        case CURLOPT_OPENSOCKETFUNCTION:  // rule 3, parked: which sockets the glue may keep registered
        case CURLOPT_OPENSOCKETDATA:
            return errc::option_owned_by_library;
        case CURLOPT_WRITEFUNCTION:
        case CURLOPT_WRITEDATA:
        case CURLOPT_HEADERFUNCTION:
        case CURLOPT_HEADERDATA:
        case CURLOPT_READFUNCTION:
        case CURLOPT_READDATA:
        case CURLOPT_XFERINFOFUNCTION:
        case CURLOPT_XFERINFODATA:
            return state.callbacks_owned ? error_code(errc::option_owned_by_library) : error_code{};
        case CURLOPT_SHARE:
            return state.share_owned ? error_code(errc::option_owned_by_library) : error_code{};
        default:
            return {};
    }
}

error_code setopt_pointer(easy_state& state, CURLoption option, void* value) {
    if (auto ec = check_not_owned(state, option)) return ec;
    // The running transfer may hold set_share's share for its executor (given back when it ends).
    if (option == CURLOPT_SHARE && state.busy()) return errc::easy_in_use;
    const option_kind kind = kind_of(option);
    if (kind != option_kind::pointer && kind != option_kind::slist && kind != option_kind::blob)
        return errc::wrong_option_type;
    error_code ec;
    if (set_forwarded_data(state, option, value, ec)) return ec;
    ec = result(curl_easy_setopt(state.handle, option, value));
    // curl let go of the share set_share gave it: so does the handle.
    if (!ec && option == CURLOPT_SHARE) state.user_share.reset();
    return ec;
}

error_code setopt_function(easy_state& state, CURLoption option, void (*value)()) {
    if (auto ec = check_not_owned(state, option)) return ec;
    if (kind_of(option) != option_kind::function) return errc::wrong_option_type;
    error_code ec;
    if (set_forwarded_function(state, option, value, ec)) return ec;
    return result(curl_easy_setopt(state.handle, option, value));
}

error_code setopt_null(easy_state& state, CURLoption option) {
    if (option == CURLOPT_URL) state.origin = 0;
    switch (kind_of(option)) {
        case option_kind::string:
        case option_kind::slist:
        case option_kind::pointer:
        case option_kind::blob:
            return setopt_pointer(state, option, nullptr);
        case option_kind::function:
            return setopt_function(state, option, nullptr);
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

// The easy that customize borrows for a fetch or stream holds a handle lent to the exchange: it never leaves
// it (moved from, it stays; the moved-to easy is empty), and nothing replaces it, so that no easy's
// destructor cleans up a handle the exchange still runs.
easy::easy(easy&& other) noexcept {
    if (other.state_ && !other.state_->lent) state_ = std::move(other.state_);
}

easy::easy(detail::easy_state* state, borrow_tag) noexcept : state_(state) {}

easy& easy::operator=(easy&& other) noexcept {
    // Into or out of customize's borrowed easy: nothing moves, and neither side loses its handle.
    const bool borrowed = (state_ && state_->lent) || (other.state_ && other.state_->lent);
    if (this != &other && !borrowed) {
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
    // A handle the http layer lent to `customize`: curl_easy_reset would drop the exchange's URL, header
    // list, callbacks and CURLOPT_PRIVATE from under it.
    if (state_->lent) detail::throw_error(errc::option_owned_by_library, "asiocurl::easy::reset");
    curl_easy_reset(state_->handle);
    state_->origin = 0;
    state_->error_buffer[0] = '\0';
    state_->callbacks = {};
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

void easy::set_share(std::shared_ptr<share> data) {
    if (!state_) detail::throw_error(errc::empty_handle, "asiocurl::easy::set_share");
    if (state_->busy()) detail::throw_error(errc::easy_in_use, "asiocurl::easy::set_share");
    if (state_->lent)  // customize's borrowed handle: the exchange's options::share is the way
        detail::throw_error(errc::option_owned_by_library, "asiocurl::easy::set_share");
    if (const CURLcode code =
            curl_easy_setopt(state_->handle, CURLOPT_SHARE, data ? data->native_handle() : nullptr))
        detail::throw_error(make_error_code(code), "asiocurl::easy::set_share");
    // After curl let go of the old one, which may die with this.
    state_->user_share = std::move(data);
}

}  // namespace asiocurl

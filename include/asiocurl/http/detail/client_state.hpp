// The non-template half of http::basic_client (src/http/client.cpp): what the client's copies share, and the
// steps of a call that do not depend on its body types.
#ifndef ASIOCURL_HTTP_DETAIL_CLIENT_STATE_HPP
#define ASIOCURL_HTTP_DETAIL_CLIENT_STATE_HPP

#include <asiocurl/http/client_options.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace asiocurl::http::detail {

struct client_state {
    explicit client_state(client_options given);

    client_options options;  // options.transfer.base_url is options.base_url

    // The budget (shared by every call of the client and its copies, from any thread).
    void record_request(std::chrono::steady_clock::time_point now);
    bool spend_retry(std::chrono::steady_clock::time_point now);

private:
    std::mutex budget_mutex_;
    std::optional<retry_budget> budget_;
};

// A number for each call of any client in the process.
std::uint64_t next_call_number() noexcept;

// Uniform in [0, 1), from a generator of the calling thread's (the jitter needs no more).
double jitter_unit() noexcept;

// "scheme://host:port" of `url` (the scheme's port when none is written), without user info: the key of a
// destination's statistics. Empty for what is not an absolute URL.
std::string destination_of(std::string_view url);

// The client's default fields, each set unless the request has it.
void add_default_fields(boost::beast::http::fields& fields, const client_options& options);

// Runs a callback of the caller's; what it throws becomes `failure` (the call ends with
// errc::middleware_failed) instead of leaving io_context::run with the call never completed.
template <class Callback>
bool guarded(Callback&& callback, std::string& failure) {
    try {
        callback();
        return true;
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "a callback of the http client threw";
    }
    return false;
}

// The middleware hooks, in order (before; `ran`: how many ran without throwing) and in reverse (after; the
// first `count` of them). False when one threw: `failure` says what.
bool run_before(const client_options& options, const attempt_context& context,
                boost::beast::http::request_header<>& request, std::size_t& ran, std::string& failure);
bool run_after(const client_options& options, const attempt_context& context, const attempt_outcome& outcome,
               std::string& failure);
bool run_after(const client_options& options, const attempt_context& context, const attempt_outcome& outcome,
               std::size_t count, std::string& failure);

}  // namespace asiocurl::http::detail

#endif

// http::basic_client's non-template half (detail/client_state.hpp).
#include <asiocurl/http/detail/client_state.hpp>

#include <algorithm>
#include <atomic>
#include <random>

namespace asiocurl::http {

void middleware::before_attempt(const attempt_context&, boost::beast::http::request_header<>&) {}
void middleware::after_attempt(const attempt_context&, const attempt_outcome&) {}

namespace detail {

client_state::client_state(client_options given) : options(std::move(given)) {
    if (auto ec = check(options.retry)) throw system_error(ec, "asiocurl::http::client: retry policy");
    options.transfer.base_url = options.base_url;
    if (options.retry_budget) budget_.emplace(*options.retry_budget);
}

void client_state::record_request(std::chrono::steady_clock::time_point now) {
    if (!budget_) return;
    std::lock_guard lock(budget_mutex_);
    budget_->record_request(now);
}

bool client_state::spend_retry(std::chrono::steady_clock::time_point now) {
    if (!budget_) return true;
    std::lock_guard lock(budget_mutex_);
    return budget_->try_spend(now);
}

std::uint64_t next_call_number() noexcept {
    static std::atomic<std::uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

double jitter_unit() noexcept {
    thread_local std::minstd_rand generator(std::random_device{}());
    return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::string destination_of(std::string_view url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return {};
    std::string_view authority = url.substr(scheme_end + 3);
    authority = authority.substr(0, std::min(authority.find_first_of("/?#"), authority.size()));
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    // A port is written after the host (after its closing bracket for IPv6); else the scheme's.
    const auto bracket = authority.rfind(']');
    const auto colon = authority.rfind(':');
    const bool has_port =
        colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
    std::string out;
    out.reserve(scheme_end + 3 + authority.size() + 4);
    out.append(url.substr(0, scheme_end)).append("://").append(authority);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!has_port) {
        if (out.starts_with("https://"))
            out.append(":443");
        else if (out.starts_with("http://"))
            out.append(":80");
    }
    return out;
}

void add_default_fields(boost::beast::http::fields& fields, const client_options& options) {
    for (const auto& [name, value] : options.headers)
        if (fields.find(name) == fields.end()) fields.insert(name, value);
}

bool run_before(const client_options& options, const attempt_context& context,
                boost::beast::http::request_header<>& request, std::size_t& ran, std::string& failure) {
    ran = 0;
    for (const auto& hook : options.middleware) {
        if (!guarded([&] { hook->before_attempt(context, request); }, failure)) return false;
        ++ran;
    }
    return true;
}

bool run_after(const client_options& options, const attempt_context& context, const attempt_outcome& outcome,
               std::size_t count, std::string& failure) {
    for (std::size_t i = std::min(count, options.middleware.size()); i-- > 0;)
        if (!guarded([&] { options.middleware[i]->after_attempt(context, outcome); }, failure)) return false;
    return true;
}

bool run_after(const client_options& options, const attempt_context& context, const attempt_outcome& outcome,
               std::string& failure) {
    return run_after(options, context, outcome, options.middleware.size(), failure);
}

}  // namespace detail
}  // namespace asiocurl::http

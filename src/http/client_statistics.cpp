// http::client_statistics (client_statistics.hpp).
#include <asiocurl/http/client_statistics.hpp>

#include <algorithm>
#include <bit>

namespace asiocurl::http {
namespace {

// The condition an error falls under, by its text ("connect failed"), or "other".
std::string condition_of(const error_code& ec) {
    for (int c = static_cast<int>(condition::timed_out); c <= static_cast<int>(condition::protocol_error);
         ++c)
        if (ec == make_error_condition(static_cast<condition>(c))) return condition_category().message(c);
    return "other";
}

}  // namespace

// Four buckets a doubling (the two bits after the highest set one), exact below 4 us.
std::size_t client_statistics::bucket_of(std::uint64_t us) noexcept {
    if (us < 4) return static_cast<std::size_t>(us);
    const int msb = 63 - std::countl_zero(us);
    const std::size_t sub = static_cast<std::size_t>(us >> (msb - 2)) & 3;
    return std::min<std::size_t>(4 + static_cast<std::size_t>(msb - 2) * 4 + sub, buckets - 1);
}

std::uint64_t client_statistics::upper_bound_of(std::size_t bucket) noexcept {
    if (bucket < 4) return bucket;
    const int msb = static_cast<int>((bucket - 4) / 4) + 2;
    const std::uint64_t sub = (bucket - 4) % 4;
    return ((4 + sub + 1) << (msb - 2)) - 1;
}

void client_statistics::after_attempt(const attempt_context& context, const attempt_outcome& outcome) {
    const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(outcome.elapsed).count()));
    const unsigned status = outcome.head.result_int();
    std::lock_guard lock(mutex_);
    auto it = by_destination_.find(context.destination);
    if (it == by_destination_.end())
        it = by_destination_.emplace(std::string(context.destination), figures{}).first;
    figures& f = it->second;
    destination& d = f.counts;
    if (context.attempt == 1) ++d.calls;
    ++d.attempts;
    if (outcome.next.retry) ++d.retries;
    if (outcome.error) {
        ++d.errors;
        ++d.errors_by_condition[condition_of(outcome.error)];
    }
    ++d.status_classes[status >= 100 && status < 600 ? status / 100 : 0];
    d.bytes_sent += outcome.info.bytes_sent;
    d.bytes_received += outcome.info.bytes_received;
    if (outcome.info.connection_reused && outcome.info.request_sent) ++d.connections_reused;
    ++f.histogram[bucket_of(us)];
    f.longest = std::max(f.longest, us);
}

std::map<std::string, client_statistics::destination> client_statistics::snapshot() const {
    std::map<std::string, destination> out;
    std::lock_guard lock(mutex_);
    for (const auto& entry : by_destination_) {
        const figures& f = entry.second;  // a plain name: clang 14 cannot capture a structured binding
        destination d = f.counts;
        std::uint64_t total = 0;
        for (auto n : f.histogram)
            total += n;
        auto percentile = [&](double p) {
            const auto rank = static_cast<std::uint64_t>(p * static_cast<double>(total) + 0.999999);
            std::uint64_t seen = 0;
            for (std::size_t b = 0; b < buckets; ++b) {
                seen += f.histogram[b];
                if (seen >= std::max<std::uint64_t>(rank, 1))
                    return std::chrono::microseconds(std::min(upper_bound_of(b), f.longest));
            }
            return std::chrono::microseconds(f.longest);
        };
        if (total > 0)
            d.latency = {percentile(0.50), percentile(0.90), percentile(0.99),
                         std::chrono::microseconds(f.longest)};
        out.emplace(entry.first, std::move(d));
    }
    return out;
}

}  // namespace asiocurl::http

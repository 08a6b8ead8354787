// asiocurl::http::client_statistics: per-destination figures of a client's attempts, as a middleware.
#ifndef ASIOCURL_HTTP_CLIENT_STATISTICS_HPP
#define ASIOCURL_HTTP_CLIENT_STATISTICS_HPP

#include <asiocurl/http/client_options.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace asiocurl::http {

/// Counts every attempt of the clients it is given to, by destination ("scheme://host:port"): calls,
/// attempts, retries, errors by `condition`, status classes, latency percentiles, bytes and reused
/// connections. A snapshot can be taken at any time, from any thread; recording is a lock, a map lookup and
/// a few additions an attempt (cheap enough to stay on).
///
///     auto stats = std::make_shared<http::client_statistics>();
///     options.middleware.push_back(stats);
///     ...
///     for (const auto& [destination, figures] : stats->snapshot()) ...
class client_statistics final : public middleware {
public:
    struct latency_percentiles {
        /// Of every attempt's duration, from its start to its end as the client saw it; each is the upper
        /// bound of the bucket it falls in (buckets a quarter of a doubling wide: at most 25% above).
        std::chrono::microseconds p50{}, p90{}, p99{}, max{};
    };
    struct destination {
        std::uint64_t calls = 0;     ///< first attempts
        std::uint64_t attempts = 0;  ///< every attempt
        std::uint64_t retries = 0;   ///< attempts that were followed by another
        std::uint64_t errors = 0;    ///< attempts that ended without a whole response
        /// Errors by `asiocurl::condition` ("connect failed", "timed out", ...; "other" for the rest).
        std::map<std::string, std::uint64_t> errors_by_condition;
        /// Responses by status class: [1] 1xx ... [5] 5xx; [0] none.
        std::array<std::uint64_t, 6> status_classes{};
        latency_percentiles latency;
        std::uint64_t bytes_sent = 0;      ///< request bodies
        std::uint64_t bytes_received = 0;  ///< response bodies, as received
        std::uint64_t connections_reused = 0;
    };

    std::map<std::string, destination> snapshot() const;

    void after_attempt(const attempt_context& context, const attempt_outcome& outcome) override;

private:
    static constexpr std::size_t buckets = 160;
    struct figures {
        destination counts;
        std::array<std::uint64_t, buckets> histogram{};
        std::uint64_t longest = 0;
    };
    static std::size_t bucket_of(std::uint64_t microseconds) noexcept;
    static std::uint64_t upper_bound_of(std::size_t bucket) noexcept;

    mutable std::mutex mutex_;
    std::map<std::string, figures, std::less<>> by_destination_;
};

}  // namespace asiocurl::http

#endif

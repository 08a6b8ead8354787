#ifndef ASIOCURL_MULTI_STATS_HPP
#define ASIOCURL_MULTI_STATS_HPP

#include <curl/curl.h>

#include <cstddef>
#include <cstdint>

namespace asiocurl {

/// Counters kept by a multi, for tests and monitoring. Read them on the multi's executor.
struct multi_stats {
    std::uint64_t transfers_started = 0;
    std::uint64_t transfers_completed = 0;
    std::uint64_t socket_actions = 0;            ///< calls of curl_multi_socket_action
    std::uint64_t timeouts_fired = 0;            ///< socket_action(CURL_SOCKET_TIMEOUT) calls
    std::uint64_t curl_errors = 0;               ///< multi calls curl answered with anything but CURLM_OK
    CURLMcode last_curl_error = CURLM_OK;        ///< the last such answer
    std::uint64_t registrations_created = 0;     ///< sockets curl reported and the glue registered
    std::size_t live_registrations = 0;          ///< registrations not yet removed (curl still watches them)
    std::size_t parked_registrations = 0;        ///< idle sockets curl removed, kept in the reactor for reuse
    std::uint64_t registrations_reused = 0;      ///< parked registrations curl reported again (no new one)
    std::uint64_t reregistered_for_reading = 0;  ///< sockets watched afresh once curl stopped writing to them
    std::uint64_t registration_failures = 0;     ///< sockets the reactor refused (DESIGN rule 7)
    std::uint64_t closed_before_remove = 0;      ///< closes curl made before its REMOVE (DESIGN rule 4 guard)
    std::uint64_t pause_calls = 0;               ///< curl_easy_pause calls made for streams (DESIGN rule 9)
    /// completions run at the end of the reactor turn that made them instead of posted (transfers' and
    /// streams' operations whose handlers run on the multi's own executor), with those that completed at
    /// once from a handler run there (a stream read of buffered bytes)
    std::uint64_t completions_at_turn_end = 0;
};

}  // namespace asiocurl

#endif

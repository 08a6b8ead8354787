#ifndef ASIOCURL_DETAIL_EASY_STATE_HPP
#define ASIOCURL_DETAIL_EASY_STATE_HPP

#include <asiocurl/error.hpp>

#include <curl/curl.h>
#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>

#include <cstdint>

namespace asiocurl::detail {

struct cancel_link;

// Everything the library keeps for one easy handle. It lives on the heap (owned by `easy`) so that
// CURLOPT_PRIVATE, which points at it, stays valid when the `easy` is moved.
struct easy_state {
    CURL* handle = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {};

    // The transfer in flight, if any. Written and read only on the executor of the multi running it.
    struct transfer {
        void* runner = nullptr;  // the multi core running it
        // Called by ~easy while in flight; true when the multi took ownership of this state (and will
        // clean the handle up once curl no longer knows it).
        bool (*abandon)(void* runner, easy_state&) = nullptr;
        // Sets the transfer's pause state (CURLPAUSE_* bits) through the multi running it; on the multi's
        // executor only, never from inside a curl callback (DESIGN rule 9).
        void (*set_pause)(void* runner, easy_state&, int bitmask) = nullptr;
        boost::asio::any_completion_handler<void(error_code)> handler;
        // Outstanding work on the handler's executor, when it is not the multi's (which the multi keeps busy
        // itself while it has transfers).
        boost::asio::any_completion_executor work;
        bool on_multi_executor = false;  // the handler's associated executor is the multi's
        cancel_link* cancellation = nullptr;
        std::uint64_t serial = 0;
        bool started = false;        // the multi's executor has picked it up (added, or failed it)
        bool orphaned = false;       // the `easy` was destroyed while in flight; the multi owns this state
        easy_state* prev = nullptr;  // the multi's list of transfers added to curl
        easy_state* next = nullptr;
    } transfer;

    bool busy() const noexcept { return transfer.runner != nullptr; }
};

// Sets the options every handle the library owns must carry, after creation and after curl_easy_reset.
void apply_library_defaults(easy_state& state) noexcept;

}  // namespace asiocurl::detail

#endif

#ifndef ASIOCURL_DETAIL_EASY_STATE_HPP
#define ASIOCURL_DETAIL_EASY_STATE_HPP

#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/detail/post_completion.hpp>
#include <asiocurl/error.hpp>

#include <curl/curl.h>
#include <boost/asio/any_completion_handler.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace asiocurl {
class share;
}

namespace asiocurl::detail {

// The data callbacks set through easy::set. curl calls the library's own forwarders (src/easy.cpp) with this
// state as their data; they call these unless the transfer was aborted, so that once an easy is destroyed or
// its transfer cancelled — even from inside one of these callbacks, with curl going on in the same call — no
// callback of the user's runs and no byte reaches the user's memory (DESIGN rule 12).
struct user_callbacks {
    curl_write_callback write = nullptr;  // CURLOPT_WRITEFUNCTION
    void* write_data = nullptr;           // CURLOPT_WRITEDATA
    curl_write_callback header = nullptr;
    void* header_data = nullptr;
    curl_read_callback read = nullptr;
    void* read_data = nullptr;
    curl_xferinfo_callback xferinfo = nullptr;
    void* xferinfo_data = nullptr;
};

struct easy_state;

// Told of the end of a transfer on the multi's executor, before its handler is posted: the http layer's
// exchange reads what curl knows there (and may turn the outcome into its own), while the handle is still
// its.
class transfer_observer {
public:
    virtual void on_transfer_end(easy_state& state, error_code& ec) noexcept = 0;
    // The transfer will not run (refused or cancelled before it reached curl): the observer lets go of what
    // the handle points at while the handle is still its, before the handle goes back to the idle pool,
    // where another thread's exchange may take it while this one's is being destroyed.
    virtual void on_transfer_abandoned(easy_state&) noexcept {}

protected:
    ~transfer_observer() = default;
};

// Everything the library keeps for one easy handle. It lives on the heap (owned by `easy`) so that
// CURLOPT_PRIVATE and the forwarders' data, which point at it, stay valid when the `easy` is moved, and so
// that a multi can keep it alive past the `easy` while curl still holds the handle.
struct easy_state {
    CURL* handle = nullptr;
    char error_buffer[CURL_ERROR_SIZE] = {};
    user_callbacks callbacks;
    // Lent by a multi's idle pool to an exchange of the http layer (no `easy` owns it): the multi takes it
    // back after the exchange, resets and keeps it for the next one (curl_easy_reset keeps live connections,
    // TLS session ids and the DNS cache), or frees it.
    bool lent = false;
    // easy::set_share's.
    std::shared_ptr<share> user_share;
    // origin_key of the CURLOPT_URL set through easy::set (0: none): what a pool routes the handle by.
    std::uint64_t origin = 0;
    // A lent handle's: the share its exchange took for the lender's executor, given back (and let go of)
    // when the multi takes the handle back or frees it, after curl let go of it.
    std::shared_ptr<share> lent_share;
    // A lent handle's multi's executor (where its transfers run): a cookie jar is used from one at a time.
    boost::asio::any_io_executor lender_executor;
    // The library installs the data callbacks itself (an exchange's): easy::set refuses them.
    bool callbacks_owned = false;
    // CURLOPT_SHARE is a cookie jar's: easy::set refuses another share, which would silently replace it.
    bool share_owned = false;
    // Options a lent handle keeps from one exchange to the next, set again only after curl_easy_reset: the
    // http layer's header and write callbacks (their data is this state), and the close-socket callback of
    // the multi that lends it (the only one it ever runs on).
    bool exchange_callbacks = false;
    bool close_reports = false;
    // A lent handle's options as its last exchange set them, recorded by the http layer (opaque here). With
    // `keep_options` the multi takes it back without curl_easy_reset: an exchange asking for the very same
    // options then sets only what is its own (the URL, headers, callbacks' data), and one asking for others
    // resets it first (the multi's reset_lent()).
    std::shared_ptr<void> applied_options;
    bool keep_options = false;
    // The http layer's URL, parsed once and set as CURLOPT_CURLU: curl parses a CURLOPT_URL string again on
    // every transfer (curl_url_set, then curl_url_get to normalise it: ~12,000 instructions on 7.88), where a
    // CURLU is only duplicated. `parsed_url_text` is what it holds; empty when it is not set on the handle.
    struct url_deleter {
        void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
    };
    std::unique_ptr<CURLU, url_deleter> parsed_url;
    std::string parsed_url_text;

    // The transfer in flight, if any. Written and read only on the executor of the multi running it.
    struct transfer {
        void* runner = nullptr;  // the multi core running it
        // Called by ~easy while in flight; true when the multi took ownership of this state (and will
        // clean the handle up once curl no longer knows it).
        bool (*abandon)(void* runner, easy_state&) = nullptr;
        // Sets the transfer's pause state (CURLPAUSE_* bits) through the multi running it; on the multi's
        // executor only, never from inside a curl callback (DESIGN rule 9).
        void (*set_pause)(void* runner, easy_state&, int bitmask) = nullptr;
        // Makes a socket curl asks for, for the multi running the transfer (DESIGN rule 3, parked): every
        // handle's CURLOPT_OPENSOCKETFUNCTION forwards here, set once with the handle's defaults, and makes
        // a plain socket when no multi runs it.
        curl_socket_t (*open_socket)(void* runner, curlsocktype, curl_sockaddr*) = nullptr;
        // Offers the multi running the transfer a completion of the http layer's own operations, made inside
        // curl's callbacks for a handler on the multi's executor: true when taken (moved from), to run at the
        // end of the reactor turn as the transfer's own would; false outside a turn (post it then).
        bool (*collect)(void* runner, turn_completion& completion) = nullptr;
        boost::asio::any_completion_handler<void(error_code)> handler;
        // Where its completion goes: the multi's executor, or the handler's own (with outstanding work on it
        // until the completion is queued there).
        completion_route route;
        cancellation_relay* cancellation = nullptr;  // one counted reference, while the handler has a slot
        transfer_observer* observer = nullptr;
        std::uint64_t serial = 0;
        std::uint32_t slot = 0;    // in the multi's table of running transfers, while added to curl
        bool started = false;      // the multi's executor has picked it up (added, or failed it)
        bool orphaned = false;     // the `easy` was destroyed while in flight; the multi owns this state
        bool share_taken = false;  // user_share holds cookies, taken for this transfer's executor
        // Aborted while curl may still be running it (from inside a callback): the forwarders refuse data,
        // and the transfer completes with operation_aborted whatever curl reports later.
        bool doomed = false;
        easy_state* prev = nullptr;  // the multi's list of transfers added to curl
        easy_state* next = nullptr;
    } transfer;

    bool busy() const noexcept { return transfer.runner != nullptr; }
    // Whether the transfer's outcome is operation_aborted already: the forwarders refuse to deliver.
    bool aborted() const noexcept {
        return transfer.doomed || (transfer.cancellation && transfer.cancellation->abort_requested());
    }
};

// The narrow way to pause or unpause a running transfer (CURLPAUSE_* bits), through the multi running it:
// on the multi's executor, which defers it while curl is on the stack (DESIGN rule 9); a no-op once it ended.
inline void request_pause(easy_state& state, int bitmask) {
    if (state.busy() && state.transfer.set_pause)
        state.transfer.set_pause(state.transfer.runner, state, bitmask);
}

// Sets the options every handle the library owns must carry, after creation and after curl_easy_reset.
void apply_library_defaults(easy_state& state) noexcept;

// Back to a fresh handle's options, keeping its connections, TLS sessions and DNS cache. curl_easy_reset
// keeps the handle's share and cookies too: the next user must see neither (a jar's cookies would go to
// requests that did not ask for it). So the share goes first, then the handle's own cookies and its list of
// cookie files (which 7.88's reset would leak), then every option.
void reset_lent(easy_state& state) noexcept;

}  // namespace asiocurl::detail

#endif

// asiocurl::multi_pool: one multi per thread, on one share, used as one.
#ifndef ASIOCURL_MULTI_POOL_HPP
#define ASIOCURL_MULTI_POOL_HPP

#include <asiocurl/easy.hpp>
#include <asiocurl/error.hpp>
#include <asiocurl/multi.hpp>
#include <asiocurl/share.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace asiocurl {

/// Which multi of a pool a transfer goes to.
enum class pool_routing {
    /// Every transfer to one origin (host and port) goes to the same multi, where its connections, and the
    /// connection cache they are reused from, live. The default: a pool of N spreads N origins or more.
    by_host,
    /// Each transfer to the least busy multi (fewest transfers in flight), the next in turn when equally
    /// busy: one busy origin spread over every thread, at the cost of N connection caches (each opens its
    /// own connections to it).
    round_robin,
};

struct pool_options {
    pool_routing routing = pool_routing::by_host;
    /// The share every transfer of the pool uses unless its handle or options name one; made with the
    /// default `share_options` (names, TLS sessions) when empty.
    std::shared_ptr<asiocurl::share> share{};
    /// Connections open to one origin at a time, over the whole pool (0: no limit; `CURLMOPT_MAX_HOST_
    /// CONNECTIONS`). By host, the origin's one multi holds them all. Round-robin, an origin's transfers go
    /// to min(N, limit) of the N multis, each allowed limit / min(N, limit) of them (rounded down), so the
    /// sum never exceeds the limit; each transfer goes to the least busy of them. Transfers beyond the limit
    /// wait in curl's queue of their multi.
    long max_host_connections = 0;
    /// How many idle easy handles each multi keeps for the http layer (basic_multi::set_idle_handle_limit).
    std::size_t idle_handles_per_multi = 64;
};

/// N multis, each on its own thread's `io_context` (or on executors the user gives, one per thread), sharing
/// one `asiocurl::share` (DNS cache, TLS sessions): the way to use more than one core for transfers, as one
/// object.
///
/// Threads: `async_perform` and `http::async_fetch(pool, ...)` may be called from any thread, concurrently.
/// A handler runs on its associated executor; one without runs on the executor of the multi its transfer ran
/// on (a pool thread). Cancellation as on a multi: `terminal` and `partial` from any thread.
///
/// Lifetime: `stop()` drains and joins; destroying the pool (from any thread, a pool thread included, and
/// from inside a handler or a curl callback of one of its transfers) aborts whatever is in flight: each
/// transfer completes once with `operation_aborted`, no callback of it runs afterwards, and the pool's own
/// threads are joined (the one the destructor runs on finishes its queue and ends by itself).
class multi_pool {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Starts `threads` threads (at least one), each running an `io_context` with one multi.
    explicit multi_pool(std::size_t threads, pool_options options = {});
    /// One multi on each executor, on threads the caller runs (each executor should be run by one thread,
    /// or be a strand). The pool starts no thread; the executors must run until the pool is stopped or
    /// destroyed and the completions it posts have run.
    explicit multi_pool(const std::vector<executor_type>& executors, pool_options options = {});
    multi_pool(const multi_pool&) = delete;
    multi_pool& operator=(const multi_pool&) = delete;
    ~multi_pool();

    /// The first multi's executor: where a handler without an executor of its own may run.
    executor_type get_executor() const noexcept;
    std::size_t size() const noexcept;
    const std::shared_ptr<asiocurl::share>& get_share() const noexcept;

    /// The multi a transfer to `url` goes to next (as `async_perform` and `http::async_fetch` choose it).
    /// Its members other than `async_perform` are to be used on its executor.
    multi& member_for(std::string_view url) noexcept;
    multi& member(std::size_t index) noexcept;

    /// Runs the transfer `handle` is set up for on one of the multis, as `basic_multi::async_perform` (same
    /// signature, errors, cancellation). A handle without a share is given the pool's (it keeps it). Once
    /// `stop()` began or the pool is being destroyed: `errc::shut_down`.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_perform(easy& handle, CompletionToken&& token = CompletionToken());

    /// Refuses new transfers (`errc::shut_down`), lets those in flight finish for up to `deadline`, aborts
    /// what is left (`operation_aborted`) and closes every connection. Blocks until every completion was
    /// posted; throws `system_error` (`resource_deadlock_would_occur`) on a thread of the pool. The threads
    /// run on (refusals complete there) until the pool is destroyed. A second call returns at once.
    void stop(std::chrono::steady_clock::duration deadline);

    /// The multis' glue counters, summed (each read on its executor; blocks until all answered). Not on a
    /// pool thread.
    multi_stats stats() const;

    struct state;  // src/multi_pool.cpp

private:
    multi& pick(std::uint64_t origin) noexcept;
    void adopt_share(easy& handle);

    std::shared_ptr<state> state_;
};

}  // namespace asiocurl

#include <asiocurl/impl/multi_pool.hpp>

#endif

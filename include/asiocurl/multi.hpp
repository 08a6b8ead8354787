// asiocurl::basic_multi: curl's multi interface on an Asio executor.
#ifndef ASIOCURL_MULTI_HPP
#define ASIOCURL_MULTI_HPP

#include <asiocurl/detail/multi_core.hpp>
#include <asiocurl/easy.hpp>
#include <asiocurl/error.hpp>
#include <asiocurl/multi_stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>

#include <cstddef>
#include <type_traits>

namespace asiocurl {

template <class Executor>
class basic_multi;

namespace detail {
// The http layer's way to the glue of a multi.
struct multi_access {
    template <class Executor>
    static auto core(basic_multi<Executor>& multi) noexcept {
        return multi.core_;
    }
    // Without a reference taken: for a counter read from other threads while the multi lives.
    template <class Executor>
    static const auto* core_pointer(const basic_multi<Executor>& multi) noexcept {
        return multi.core_.get();
    }
};
}  // namespace detail

/// Runs curl transfers on an Asio executor: each socket curl uses is waited on by the executor's reactor,
/// curl's timer is an Asio timer, and no thread is started.
///
/// Threads: a `CURLM*` is not thread-safe, so every call into curl and every callback of curl runs on the
/// multi's executor. With a strand (`basic_multi<asio::strand<...>>`) an `io_context` may be run by several
/// threads, and `async_perform` may be called from any thread. With a plain executor, use the multi from
/// the thread(s) that run its executor, as any Asio I/O object. Other members: on the executor, or before
/// it runs anything.
///
/// Lifetime: destroy the multi before its execution context. Destroying it (or `shutdown()`, or `cancel()`)
/// with transfers in flight completes each of them once with `operation_aborted` (posted); destruction and
/// `shutdown()` also close every connection. Called from inside a curl callback (a write callback of one of
/// its transfers, say), it takes effect there: no callback of any aborted transfer runs afterwards. If the
/// execution context is then destroyed without running again, the handlers are destroyed uninvoked, once.
template <class Executor = boost::asio::any_io_executor>
class basic_multi {
public:
    using executor_type = Executor;

    template <class OtherExecutor>
    struct rebind_executor {
        using other = basic_multi<OtherExecutor>;
    };

    /// Creates the multi; throws `system_error` when curl cannot.
    explicit basic_multi(const executor_type& executor);
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, boost::asio::execution_context&>
    explicit basic_multi(ExecutionContext& context) : basic_multi(executor_type(context.get_executor())) {}

    basic_multi(const basic_multi&) = delete;
    basic_multi& operator=(const basic_multi&) = delete;
    // The executor is copied, not moved: a moved-from multi still completes its operations (with an error).
    basic_multi(basic_multi&& other) noexcept : executor_(other.executor_), core_(std::move(other.core_)) {}
    basic_multi& operator=(basic_multi&& other) noexcept;
    ~basic_multi();

    executor_type get_executor() const noexcept { return executor_; }

    /// The `CURLM*`, for what this class does not wrap. Never set `CURLMOPT_SOCKETFUNCTION`,
    /// `CURLMOPT_TIMERFUNCTION` or their data: they are the glue.
    CURLM* native_handle() const noexcept;

    /// Sets a long-valued multi option (`CURLMOPT_MAXCONNECTS`, `CURLMOPT_MAX_HOST_CONNECTIONS`, …).
    void set_option(CURLMoption option, long value, error_code& ec);
    void set_option(CURLMoption option, long value);
    /// `CURLMOPT_MAX_TOTAL_CONNECTIONS` (0: no limit). Transfers beyond it wait in curl's queue.
    void set_max_total_connections(long count) { set_option(CURLMOPT_MAX_TOTAL_CONNECTIONS, count); }
    /// `CURLMOPT_MAX_HOST_CONNECTIONS` (0: no limit).
    void set_max_host_connections(long count) { set_option(CURLMOPT_MAX_HOST_CONNECTIONS, count); }
    /// `CURLMOPT_MAXCONNECTS`: the size of the cache of idle connections. By default 4 x the most transfers
    /// this multi has run at once (curl's own default counts the handles added at the moment a connection
    /// goes idle, and a multi removes each handle when its transfer ends: curl would close connections the
    /// next transfers need). Set here or with `set_option`, it is left as set (not through native_handle()).
    void set_max_cached_connections(long count) { set_option(CURLMOPT_MAXCONNECTS, count); }
    /// How many idle easy handles the http layer keeps for its next exchanges (64 by default; 0: none).
    /// Each keeps curl's per-handle state (about 6 KiB, plus its receive buffer once used) so that a fetch
    /// in steady state creates no handle; their connections live in the multi's cache either way.
    void set_idle_handle_limit(std::size_t count) {
        if (core_) core_->set_idle_limit(count);
    }
    /// `CURLMOPT_PIPELINING`: HTTP/2 multiplexing (on by default in curl).
    void set_multiplexing(bool enabled) {
        set_option(CURLMOPT_PIPELINING, enabled ? long{CURLPIPE_MULTIPLEX} : long{CURLPIPE_NOTHING});
    }

    /// Runs the transfer `handle` is set up for.
    ///
    /// Completion signature: `void(error_code)`; success, or curl's `CURLcode` (`curl_category()`; compare
    /// with `asiocurl::condition`; `handle.error_message()` has curl's detail), `operation_aborted` when
    /// cancelled or when the multi is destroyed, `errc::easy_in_use` when `handle` already runs a transfer.
    /// The handler runs once, on its associated executor (default: the multi's), never inside this call.
    /// Its associated allocator allocates the operation's state.
    ///
    /// Cancellation: `terminal` and `partial` abort the transfer (its handle is removed; no callback of it
    /// runs afterwards, also when emitted from inside one of its callbacks). `total` is honoured only before
    /// the transfer reached curl. The slot may be emitted from any thread; the slot handler left in it after
    /// completion holds nothing of the executor, so the signal may outlive the execution context.
    ///
    /// `handle` must outlive the operation. Afterwards it keeps its options and may run again; its
    /// connection stays in this multi's cache for the next transfer to the same host.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_perform(easy& handle, CompletionToken&& token = CompletionToken());

    /// Aborts every transfer in flight, and those initiated but not yet picked up by the executor; each
    /// completes with `operation_aborted`. The multi stays usable.
    void cancel();

    /// What the destructor does, now: aborts every transfer, closes every connection, releases every
    /// socket. Later `async_perform`s fail with `errc::shut_down`.
    void shutdown();

    /// Transfers added to curl and not yet completed.
    std::size_t in_flight() const noexcept;
    /// The glue's counters.
    multi_stats stats() const noexcept;

private:
    using core_type = detail::multi_core<detail::curl_engine>;
    struct initiate_perform;
    friend struct detail::multi_access;

    executor_type executor_;
    boost::intrusive_ptr<core_type> core_;
};

using multi = basic_multi<>;

}  // namespace asiocurl

#include <asiocurl/impl/multi.hpp>

#endif

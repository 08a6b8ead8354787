#ifndef ASIOCURL_DETAIL_MULTI_CORE_HPP
#define ASIOCURL_DETAIL_MULTI_CORE_HPP

#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/detail/curl_engine.hpp>
#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/multi_stats.hpp>
#include <asiocurl/share.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace asiocurl::detail {

template <class Engine>
class multi_core;

// One registration per socket curl reported (DESIGN rules 3-5): completions of its waits carry a counted
// reference to this object, never an fd number, so a wait that completes after curl removed the socket (and
// maybe reused its number for another) finds `retired` and is dropped. A connection's socket that the glue
// opened itself is parked on REMOVE instead (rule 3, parked): it stays in the reactor until curl reports it
// again or closes it through the close-socket callback.
template <class Engine>
struct socket_registration {
    socket_registration(multi_core<Engine>& core, curl_socket_t socket)
        : owner(&core), descriptor(core.get_executor()), fd(socket) {}
    ~socket_registration();

    multi_core<Engine>* owner;  // valid while !retired
    boost::asio::posix::stream_descriptor descriptor;
    curl_socket_t fd;
    // The glue's own duplicate of a socket it opened, which the reactor watches instead of curl's number
    // (multi_core::own_numbers_); -1: the reactor watches `fd` itself. Closed by the glue, never curl's.
    int own_fd = -1;
    int reactor_fd() const noexcept { return own_fd >= 0 ? own_fd : fd; }
    int wanted = 0;               // CURL_POLL_IN / CURL_POLL_OUT bits curl last asked for
    bool waiting_in = false;      // an async_wait(wait_read) is outstanding
    bool waiting_out = false;     // an async_wait(wait_write) is outstanding
    bool retired = false;         // descriptor released: curl removed or closed the socket, or the multi died
    bool failed = false;          // the reactor refused the fd; curl gets no events for it
    bool held_by_curl = true;     // curl holds it as socketp (until REMOVE or a new curl_multi_assign)
    bool opened_by_glue = false;  // the open-socket callback made this very socket (checked by inode)
    bool read_wanted = false;     // curl asked to read it at least once: it carries a connection
    bool parked = false;          // removed by curl, kept registered until curl reports or closes it
    bool watched_for_writing = false;   // a write wait was queued: Asio keeps EPOLLOUT in the mask for good
    bool merge_posted = false;          // an act_on of the collected readiness is queued
    int merged_events = 0;              // CURL_CSELECT_* bits collected for it
    std::uint32_t wait_generation = 0;  // moves on when queued waits are cancelled or dropped
    socket_registration* held_prev = nullptr;  // list of registrations curl holds
    socket_registration* held_next = nullptr;
    // curl's reference (or, parked, the core's) plus one per outstanding wait; only touched on the multi's
    // executor.
    int refs = 1;

    friend void intrusive_ptr_add_ref(socket_registration* r) noexcept { ++r->refs; }
    friend void intrusive_ptr_release(socket_registration* r) noexcept {
        if (--r->refs == 0) delete r;
    }
};

// The reactor glue: everything basic_multi does, for any executor (type-erased) and any engine. Compiled once
// for curl_engine in src/multi_core.cpp; tests instantiate it with their scripted engine.
template <class Engine>
class multi_core {
public:
    using executor_type = boost::asio::any_io_executor;
    using handler_type = boost::asio::any_completion_handler<void(error_code)>;
    using registration = socket_registration<Engine>;

    static boost::intrusive_ptr<multi_core> create(executor_type executor);

    multi_core(const multi_core&) = delete;
    multi_core& operator=(const multi_core&) = delete;

    const executor_type& get_executor() const noexcept { return executor_; }
    Engine& engine() noexcept { return engine_; }
    CURLM* native_handle() const noexcept;

    // Any thread: starts `state`'s transfer, or posts the handler's immediate failure.
    // `route`: where the handler's completion goes (detail/post_completion.hpp).
    void initiate(easy_state* state, handler_type handler, completion_route route);

    // The idle pool of the http layer's handles (any thread). lend_handle: a handle with the library's
    // defaults — one an earlier exchange left, or a new one — or nullptr when curl cannot make one; it goes
    // back by itself when its transfer ends. Up to `idle_limit` are kept; shutdown() frees them.
    easy_state* lend_handle();
    // A lent handle that no transfer used after all (its exchange was refused before it began).
    void return_unused(easy_state* state) noexcept { take_back(*state, {}); }
    void set_idle_limit(std::size_t limit);
    std::size_t idle_handles() const;

    // On the multi's executor (or before it runs anything).
    error_code set_option(CURLMoption option, long value);
    void cancel_all();
    void shutdown();
    // Pauses or unpauses `state`'s transfer (curl_easy_pause with CURLPAUSE_* bits), a no-op once it ended.
    void set_pause(easy_state& state, int bitmask);
    std::size_t in_flight() const noexcept { return in_flight_; }
    // A pool's way to drain: from now on initiate refuses new transfers (errc::shut_down), those accepted go
    // on. Any thread.
    void refuse_new() noexcept { refusing_.store(true, std::memory_order_release); }
    // Transfers accepted by initiate and not yet completed, queued starts included. Any thread.
    std::size_t operations() const noexcept { return operations_.load(std::memory_order_acquire); }
    // On the executor: `callback` runs there each time the count of operations drops to zero (empty: none).
    void on_drained(std::function<void()> callback) { drained_ = std::move(callback); }
    const multi_stats& stats() const noexcept { return stats_; }
    // The number the reactor watches for curl's socket `fd` (the glue's duplicate, or `fd`), -1 with no live
    // registration: tests read the kernel's epoll tables with it.
    int reactor_number(curl_socket_t fd) const noexcept;
    // Sockets the glue opens are watched through a duplicate it owns (the default on curl before 8.5, see
    // own_numbers_); tests set it to check both ways on either curl. Before any socket is reported.
    void watch_own_numbers(bool on) noexcept { own_numbers_ = on; }

    friend void intrusive_ptr_add_ref(multi_core* c) noexcept {
        c->refs_.fetch_add(1, std::memory_order_relaxed);
    }
    friend void intrusive_ptr_release(multi_core* c) noexcept {
        if (c->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete c;
    }

    // curl's callbacks (public so that the scripted engine can call them as curl would).
    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
    static int on_timer(CURLM* multi, long timeout_ms, void* userp);
    static int on_close_socket(void* clientp, curl_socket_t fd);
    static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address);

    // Called from a registration's wait completion.
    void on_socket_ready(registration& reg, int direction, const error_code& ec);
    // One socket_action for the readiness `events` (CURL_CSELECT_* bits) of `reg`, then re-arm and drain.
    void act_on(registration& reg, int events);

private:
    explicit multi_core(executor_type executor);
    ~multi_core();

    struct start_op;
    struct wait_handler;
    class curl_call_scope;
    class reactor_turn;

    void start(easy_state& state);
    bool abandon(easy_state& state);
    static void deliver_cancellation(void* state, std::uint64_t, unsigned types);
    void cancel_transfer(easy_state& state, unsigned types);
    // DESIGN rule 12: aborts `state`'s transfer now, or, with curl on the stack, dooms it (its callbacks
    // refuse data, its outcome is operation_aborted) and removes it as soon as curl has returned.
    void abort_or_doom(easy_state& state);
    void reap_later();
    void reap();
    void fail_transfer_later(CURL* easy, error_code ec, curl_socket_t fd);
    void abort_transfer(easy_state& state, error_code ec);
    void finish(easy_state& state, error_code ec);
    void complete(easy_state& state, error_code ec);
    void deliver_ready();
    void post_ready() noexcept;
    static void detach(easy_state& state) noexcept;
    static void destroy_orphan(easy_state* state) noexcept;
    void take_back(easy_state& state, const error_code& outcome, bool exchange_ended = false) noexcept;
    static void free_handle(easy_state* state) noexcept;
    void shutdown_now();

    template <class Function>
    void post_here(Function&& f);
    void socket_action(curl_socket_t fd, int events);
    void on_timeout(std::uint64_t generation);
    void drain_messages();
    void track(CURLMcode result) noexcept;

    void arm(registration& reg);
    // Releases the descriptor; a parked registration's last reference may go with it.
    void retire(registration& reg);
    bool watch_for_reading_alone(registration& reg, CURL* easy);
    bool parkable(const registration& reg) const noexcept;
    void park(registration& reg) noexcept;
    // For a socket curl reports without a socketp: its parked registration, back in curl's hands, or null.
    registration* unpark_or_forget(curl_socket_t fd);
    bool is_socket_opened(curl_socket_t fd) const noexcept;
    void hold(registration* reg) noexcept;
    void release_from_curl(registration* reg) noexcept;
    registration* live_at(curl_socket_t fd) const noexcept;
    void remember_live(registration& reg);
    void forget_live(registration& reg) noexcept;

    bool reserve_running_slot() noexcept;
    void link_active(easy_state& state) noexcept;
    void unlink_active(easy_state& state) noexcept;
    // The running transfer numbered `serial` in `slot`, or null once it ended: O(1), for work posted with a
    // transfer's address that may run after the state is gone.
    easy_state* running(std::uint32_t slot, std::uint64_t serial) const noexcept;

    std::atomic<int> refs_{1};
    executor_type executor_;
    Engine engine_;
    boost::asio::steady_timer timer_;
    std::uint64_t timer_generation_ = 0;  // DESIGN rule 2: a wait for an older arm is ignored
    int curl_depth_ = 0;                  // > 0 while a call into curl that may call back is on the stack
    // The Asio contract lets a completion run from another handler on its executor, never from the
    // initiating call: the completions of a reactor or timer turn whose handler runs on the multi's own
    // executor wait here while the turn runs, and run once curl has returned and the turn is done, instead
    // of a post each (reactor_turn). The multi keeps a reference to itself while any wait.
    bool collect(turn_completion& completion);
    // While ready_ is run: a completion made at once by what a handler there started (turn_delivery).
    bool join(turn_completion& completion);
    std::vector<turn_completion> ready_;  // reserved once: past its capacity, completions are posted
    bool collecting_ = false;             // a turn runs: completions on the multi's executor go to ready_
    bool delivering_ = false;             // ready_ is being run: only completions at once join it
    std::atomic<bool> shut_down_{false};  // no new transfer accepted
    std::atomic<bool> refusing_{false};   // no new transfer accepted, those accepted go on (refuse_new)
    std::atomic<std::size_t> operations_{0};
    std::function<void()> drained_;
    bool cleaned_up_ = false;  // curl_multi_cleanup has run

    // curl before 8.5 closes a connect attempt it abandons with a bare close(2) and REMOVEs it after: by
    // then the number may be another descriptor's, one registered in this very epoll by another thread, and
    // releasing the registration (Asio's EPOLL_CTL_DEL by number) would take that descriptor out of it. A
    // socket the glue opened is therefore watched through a duplicate the glue owns and closes itself, so
    // that no DEL ever names a number the glue does not own (docs/design-notes.md, "A number closed behind
    // the glue's back"). A descriptor a connection, and two system calls a new connection; not needed on
    // curl 8.5+, which closes every socket it opened through the callback.
    bool own_numbers_ = false;
    std::vector<registration*> live_by_fd_;  // for the close-socket guard and parking, never for routing
    // The inode of each socket the open-socket callback made, until its close through the callback (0: none).
    std::vector<unsigned long> opened_inode_;
    registration* held_head_ = nullptr;  // registrations curl holds as socketp

    easy_state* active_head_ = nullptr;  // transfers added to curl
    std::size_t in_flight_ = 0;
    std::size_t most_in_flight_ = 0;  // sizes curl's connection cache (link_active)
    bool user_sized_cache_ = false;   // CURLMOPT_MAXCONNECTS set by the user: left alone
    // Each running transfer's slot holds its state and serial; a freed slot is reused (no allocation once
    // the table reached the most transfers in flight at once).
    struct running_slot {
        easy_state* state = nullptr;
        std::uint64_t serial = 0;
    };
    std::vector<running_slot> running_slots_;
    std::vector<std::uint32_t> free_slots_;
    std::vector<easy_state*> orphans_;  // states of easies destroyed inside curl, freed once curl let go
    mutable std::mutex idle_mutex_;     // lend_handle() is called from any thread (a strand multi's)
    std::vector<easy_state*> idle_;
    std::size_t idle_limit_ = 64;
    bool reap_posted_ = false;               // a reap() is queued
    boost::asio::any_io_executor own_work_;  // keeps the multi's executor busy while transfers run
    std::atomic<std::uint64_t> next_serial_{1};
    // cancel_all() also aborts transfers initiated before it and not picked up yet: those numbered below
    // this.
    std::atomic<std::uint64_t> cancelled_below_{0};
    multi_stats stats_;
};

extern template class multi_core<curl_engine>;

}  // namespace asiocurl::detail

#endif

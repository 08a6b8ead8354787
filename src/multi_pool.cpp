#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/detail/origin_key.hpp>
#include <asiocurl/multi_pool.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace asiocurl {

struct multi_pool::state {
    struct member {
        std::unique_ptr<boost::asio::io_context>
            context;  // the pool's own thread's; empty on a user's executor
        std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
        std::optional<multi> transfers;
        std::thread thread;
        bool drained = false;  // under state::mutex, while stop() waits
    };

    pool_options options;
    std::vector<std::unique_ptr<member>> members;
    // Round-robin with a per-host limit: an origin's transfers go to this many consecutive members.
    std::size_t spread = 1;
    std::atomic<std::uint64_t> next{0};

    std::mutex mutex;
    std::condition_variable changed;
    std::size_t drained = 0;
    bool stopped = false;

    // On one of the members' threads (or strands): waiting for them from here would wait for ourselves.
    bool on_member_thread() const {
        for (const auto& m : members) {
            if (m->thread.joinable() && m->thread.get_id() == std::this_thread::get_id()) return true;
            if (!m->context && detail::running_in_this_thread(m->transfers->get_executor())) return true;
        }
        return false;
    }

    void refuse_new() {
        for (auto& m : members)
            if (auto core = detail::multi_access::core(*m->transfers)) core->refuse_new();
    }

    // Runs `f(member&, index)` on every member's executor and blocks until all of them ran it.
    template <class Function>
    void on_each_and_wait(Function f) {
        std::size_t done = 0;
        for (std::size_t i = 0; i < members.size(); ++i)
            boost::asio::post(members[i]->transfers->get_executor(), [this, &f, &done, i] {
                f(*members[i], i);
                std::lock_guard lock(mutex);
                ++done;
                changed.notify_all();
            });
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return done == members.size(); });
    }

    // The pool's share, and the per-host limit spread over the members (pool_options::max_host_connections).
    void configure(pool_options given) {
        options = std::move(given);
        if (!options.share) options.share = std::make_shared<share>();
        const long limit = options.max_host_connections;
        long per_member = limit;
        if (options.routing == pool_routing::round_robin) {
            spread = limit > 0 ? std::min<std::size_t>(members.size(), static_cast<std::size_t>(limit))
                               : members.size();
            if (limit > 0) per_member = limit / static_cast<long>(spread);
        }
        for (auto& m : members) {
            m->transfers->set_idle_handle_limit(options.idle_handles_per_multi);
            if (per_member > 0) m->transfers->set_max_host_connections(per_member);
        }
    }

    void mark_drained(member& m) {
        std::lock_guard lock(mutex);
        if (m.drained) return;
        m.drained = true;
        ++drained;
        changed.notify_all();
    }
};

namespace {
void check_threads(std::size_t count) {
    if (count == 0) throw std::system_error(make_error_code(errc::invalid_argument), "asiocurl::multi_pool");
}
}  // namespace

multi_pool::multi_pool(std::size_t threads, pool_options options) : state_(std::make_shared<state>()) {
    check_threads(threads);
    state_->members.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        auto m = std::make_unique<state::member>();
        // One thread per context (concurrency hint 1: no locking inside it); its multi is used from there.
        m->context = std::make_unique<boost::asio::io_context>(1);
        m->work.emplace(m->context->get_executor());
        m->transfers.emplace(m->context->get_executor());
        state_->members.push_back(std::move(m));
    }
    state_->configure(std::move(options));
    for (auto& m : state_->members)
        m->thread = std::thread([keep = state_, context = m->context.get()] { context->run(); });
}

multi_pool::multi_pool(const std::vector<executor_type>& executors, pool_options options)
    : state_(std::make_shared<state>()) {
    check_threads(executors.size());
    for (const auto& executor : executors) {
        auto m = std::make_unique<state::member>();
        m->transfers.emplace(executor);
        state_->members.push_back(std::move(m));
    }
    state_->configure(std::move(options));
}

multi_pool::~multi_pool() {
    auto s = std::exchange(state_, nullptr);
    if (!s) return;
    s->refuse_new();
    // Each multi is shut down on its executor (its transfers complete with operation_aborted, posted); the
    // one this thread runs at once, so that no callback of its transfers runs after this (a destructor
    // called from inside one of them).
    for (auto& m : s->members) {
        auto* member = m.get();
        const bool here = m->thread.joinable() ? m->thread.get_id() == std::this_thread::get_id()
                                               : detail::running_in_this_thread(m->transfers->get_executor());
        if (here)
            member->transfers->shutdown();
        else
            boost::asio::post(m->transfers->get_executor(), [s, member] { member->transfers->shutdown(); });
    }
    // The pool's threads end once their queues are empty: the completions of the aborted transfers run (or
    // travel on to their handlers' executors) first.
    for (auto& m : s->members)
        m->work.reset();
    for (auto& m : s->members) {
        if (!m->thread.joinable()) continue;
        if (m->thread.get_id() == std::this_thread::get_id())
            m->thread.detach();  // destroyed from its own handler: the thread holds the state until it ends
        else
            m->thread.join();
    }
}

multi_pool::executor_type multi_pool::get_executor() const noexcept {
    return state_->members.front()->transfers->get_executor();
}

std::size_t multi_pool::size() const noexcept {
    return state_->members.size();
}

const std::shared_ptr<asiocurl::share>& multi_pool::get_share() const noexcept {
    return state_->options.share;
}

multi& multi_pool::member(std::size_t index) noexcept {
    return *state_->members.at(index)->transfers;
}

multi& multi_pool::member_for(std::string_view url) noexcept {
    return pick(detail::origin_key(url));
}

multi& multi_pool::pick(std::uint64_t origin) noexcept {
    auto& s = *state_;
    const std::size_t n = s.members.size();
    std::size_t index;
    if (origin != 0 && s.options.routing == pool_routing::by_host) {
        index = origin % n;
    } else {
        const std::uint64_t turn = s.next.fetch_add(1, std::memory_order_relaxed);
        // With a per-host limit an origin's transfers go to `spread` members only (its share of the limit is
        // on each of them); without one, to all. Of those, to the least busy, in turn when equally busy: with
        // a limit, the next in turn may have all its connections taken while another has one free, and the
        // transfer would wait in curl's queue (where curl 8 re-checks it against every connection each time
        // one changes). A member's count of operations in flight is what it is given and has not completed.
        const bool limited = origin != 0 && s.spread < n;
        const std::size_t first = limited ? origin % n : 0;
        const std::size_t candidates = limited ? s.spread : n;
        auto busy = [&](std::size_t i) {
            const auto* core = detail::multi_access::core_pointer(*s.members[i]->transfers);
            return core ? core->operations() : 0;
        };
        index = (first + turn % candidates) % n;
        std::size_t least = busy(index);
        for (std::size_t step = 1; step < candidates && least > 0; ++step) {
            const std::size_t other = (first + (turn + step) % candidates) % n;
            if (const std::size_t load = busy(other); load < least) {
                index = other;
                least = load;
            }
        }
    }
    return *s.members[index]->transfers;
}

void multi_pool::adopt_share(easy& handle) {
    detail::easy_state* st = handle.state();
    if (!st || st->user_share || st->busy()) return;
    handle.set_share(state_->options.share);
}

void multi_pool::stop(std::chrono::steady_clock::duration deadline) {
    auto& s = *state_;
    if (s.on_member_thread())
        throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                "asiocurl::multi_pool::stop on a thread of the pool");
    {
        std::lock_guard lock(s.mutex);
        if (s.stopped) return;
        s.stopped = true;
    }
    const auto until = std::chrono::steady_clock::now() + deadline;
    s.refuse_new();
    for (auto& m : s.members) {
        auto* member = m.get();
        boost::asio::post(member->transfers->get_executor(), [state = &s, member] {
            auto core = detail::multi_access::core(*member->transfers);
            if (!core || core->operations() == 0) return state->mark_drained(*member);
            core->on_drained([state, member] { state->mark_drained(*member); });
        });
    }
    std::unique_lock lock(s.mutex);
    if (!s.changed.wait_until(lock, until, [&] { return s.drained == s.members.size(); })) {
        lock.unlock();
        for (auto& m : s.members)
            boost::asio::post(m->transfers->get_executor(),
                              [member = m.get()] { member->transfers->cancel(); });
        lock.lock();
        s.changed.wait(lock, [&] { return s.drained == s.members.size(); });
    }
    lock.unlock();
    s.on_each_and_wait([](state::member& m, std::size_t) {
        if (auto core = detail::multi_access::core(*m.transfers)) core->on_drained({});
        m.transfers->shutdown();
    });
    // The threads go on until the pool is destroyed: a transfer refused from now on still completes there.
}

multi_stats multi_pool::stats() const {
    auto& s = *state_;
    if (s.on_member_thread())
        throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                                "asiocurl::multi_pool::stats on a thread of the pool");
    std::vector<multi_stats> each(s.members.size());
    s.on_each_and_wait([&each](state::member& m, std::size_t index) { each[index] = m.transfers->stats(); });
    multi_stats sum;
    for (const multi_stats& one : each) {
        sum.transfers_started += one.transfers_started;
        sum.transfers_completed += one.transfers_completed;
        sum.socket_actions += one.socket_actions;
        sum.timeouts_fired += one.timeouts_fired;
        sum.curl_errors += one.curl_errors;
        if (one.last_curl_error != CURLM_OK) sum.last_curl_error = one.last_curl_error;
        sum.registrations_created += one.registrations_created;
        sum.live_registrations += one.live_registrations;
        sum.parked_registrations += one.parked_registrations;
        sum.registrations_reused += one.registrations_reused;
        sum.reregistered_for_reading += one.reregistered_for_reading;
        sum.registration_failures += one.registration_failures;
        sum.closed_before_remove += one.closed_before_remove;
        sum.pause_calls += one.pause_calls;
    }
    return sum;
}

}  // namespace asiocurl

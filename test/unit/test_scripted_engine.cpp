// The glue against the scripted engine: callback orders a real server cannot provoke on demand
// (DESIGN rules 1, 2, 3, 4, 7, 9).
#include <asiocurl/detail/impl/multi_core.ipp>
#include <asiocurl/easy.hpp>

#include "scripted_engine.hpp"
#include "test_helpers.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace asiocurl {
namespace {

using test::completion;
using test::scripted_engine;
using core_type = detail::multi_core<scripted_engine>;
// The completions of these transfers run on the multi's own executor (what route_of() finds for them).
const detail::completion_route on_the_multi{{}, true};

struct socket_pair {
    int local = -1, peer = -1;
    socket_pair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0) local = fds[0], peer = fds[1];
    }
    ~socket_pair() {
        if (local >= 0) ::close(local);
        if (peer >= 0) ::close(peer);
    }
    void poke() const { (void)!::write(peer, "x", 1); }
    void drain() const {
        char buffer[64];
        while (::read(local, buffer, sizeof buffer) > 0) {}
    }
};

struct glue_socket;

class scripted : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    boost::asio::steady_timer reactor_started{ioc};  // the reactor's own fds exist before the baseline
    test::fd_baseline fds;
    boost::intrusive_ptr<core_type> core = core_type::create(ioc.get_executor());
    scripted_engine& engine = core->engine();
    // Completions live in the fixture: after a failed ASSERT, TearDown's shutdown still completes them.
    completion done, failing_done, healthy_done, first_done, second_done;

    // The rules below are about curl's numbers, so the reactor watches those (as on curl 8.5+); the glue's
    // own duplicates (its default on curl before 8.5) have tests of their own, at the end.
    void SetUp() override { core->watch_own_numbers(false); }

    void TearDown() override {
        if (!core) {  // a test destroyed the multi (and its engine) itself
            ioc.run_for(std::chrono::milliseconds(10));
            EXPECT_TRUE(fds.settled());
            return;
        }
        core->shutdown();
        ioc.run_for(std::chrono::milliseconds(20));
        EXPECT_EQ(engine.recursive_calls, 0) << "the glue called curl from inside a curl callback";
        for (int result : engine.socket_cb_results)
            EXPECT_EQ(result, 0) << "the socket callback returned -1";
        EXPECT_EQ(core->stats().live_registrations, 0u);
        core.reset();
        ioc.run_for(std::chrono::milliseconds(10));
        EXPECT_TRUE(fds.settled());
    }

    int actions_on(curl_socket_t fd) const {
        int n = 0;
        for (auto& [s, events] : engine.actions)
            n += s == fd;
        return n;
    }

    // Keep-alive as curl 7.88 does it, on `socket` (defined with glue_socket below), step by step: the first
    // transfer started and its socket acted on once (connected); a transfer run to its end by the peer's
    // byte; the second transfer started on the kept-alive socket.
    bool keep_alive_first_connects(const glue_socket& socket, easy& first, easy& second);
    bool poked_until_done(const glue_socket& socket, const completion& transfer);
    bool keep_alive_second_started(easy& second);

    // curl finishes `handle`'s transfer at its first timeout: the turn that delivers its completion. Any
    // other transfer added runs on.
    void finish_at_the_first_timeout(easy& handle) {
        CURL* finished = handle.native_handle();
        engine.on_add = [this](CURL*) { engine.timer_cb(0); };
        engine.on_action = [this, finished](curl_socket_t s, int) {
            if (s == CURL_SOCKET_TIMEOUT) engine.finish(finished, CURLE_OK);
        };
    }
    // Runs the io_context until a handler's std::runtime_error leaves run() (as a posted completion's
    // would), for at most 5 s: whether one did.
    bool a_handler_throws_out_of_run() {
        try {
            ioc.run_for(std::chrono::seconds(5));
        } catch (const std::runtime_error&) {
            return true;
        }
        return false;
    }
    // An operation that completes at once: a start refused for want of a handle; counts its refusals.
    void start_refused(int& refused) {
        core->initiate(
            nullptr,
            [&refused](error_code ec) {
                EXPECT_EQ(ec, errc::empty_handle);
                ++refused;
            },
            on_the_multi);
    }
};

// Rule 4: within one socket_action curl removes a socket, closes it, and its number comes back at once
// for the next socket. The old registration's leftovers must neither reach curl nor unregister the new one.
TEST_F(scripted, remove_then_reuse_of_the_same_fd_number_in_one_action) {
    easy handle;
    CURL* h = handle.native_handle();
    auto first = std::make_unique<socket_pair>();
    const int fd = first->local;
    socket_pair second;
    int step = 0;
    engine.on_add = [&](CURL*) { engine.timer_cb(0); };
    engine.on_action = [&](curl_socket_t s, int events) {
        if (s == CURL_SOCKET_TIMEOUT && step == 0) {
            step = 1;
            engine.socket_cb(h, fd, CURL_POLL_IN);
        } else if (s == fd && step == 1) {
            EXPECT_EQ(events, CURL_CSELECT_IN);
            step = 2;
            engine.socket_cb(h, fd, CURL_POLL_REMOVE);
            EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "REMOVE closed curl's socket";
            // curl closes the socket and the next socket() returns the same number.
            ::close(first->peer);
            first->peer = -1;
            ASSERT_EQ(::dup2(second.local, fd), fd);
            first->local = -1;
            engine.socket_cb(h, fd, CURL_POLL_IN);
        } else if (s == fd && step == 2) {
            step = 3;
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    first->poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return step == 2; }, std::chrono::seconds(5)));
    // Let the first registration's cancelled wait complete and its object die before the new socket speaks.
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(step, 2) << "a completion of the removed registration reached curl";
    ::close(second.local);  // fd now refers to the second socket alone
    second.local = fd;
    second.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the new registration of the reused fd lost its events";
    EXPECT_EQ(done.calls, 1);
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(actions_on(fd), 2);
    EXPECT_EQ(core->stats().registrations_created, 2u);
    EXPECT_EQ(core->stats().curl_errors, 0u);
}

// Rule 4's second guard: curl closes a socket through the close-socket callback before its REMOVE (curl has
// shipped such bugs) and the number comes straight back for a new socket, which curl announces with the old
// socketp. The glue must have released the old registration while the fd was still its own, and give the new
// socket a registration of its own.
TEST_F(scripted, a_close_before_its_remove_releases_the_registration_first) {
    easy handle;
    CURL* h = handle.native_handle();
    auto first = std::make_unique<socket_pair>();
    const int fd = first->local;
    socket_pair second;
    int step = 0;
    engine.on_add = [&](CURL*) { engine.timer_cb(0); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT && step == 0) {
            step = 1;
            engine.socket_cb(h, fd, CURL_POLL_IN);
        } else if (s == fd && step == 1) {
            step = 2;
            EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);  // closes fd, no REMOVE
            first->local = -1;
            ::close(first->peer);
            first->peer = -1;
            ASSERT_EQ(::dup2(second.local, fd), fd);
            engine.socket_cb(h, fd, CURL_POLL_IN);  // curl's table still holds the old socketp
        } else if (s == fd && step == 2) {
            step = 3;
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    first->poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return step == 2; }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(step, 2) << "a completion of the closed registration reached curl";
    ::close(second.local);
    second.local = fd;
    second.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the new socket under the reused number lost its events";
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(core->stats().closed_before_remove, 1u);
    EXPECT_EQ(core->stats().registrations_created, 2u);
    EXPECT_EQ(actions_on(fd), 2);
}

// Rule 2: a zero timeout requested while curl is on the stack is posted, not run inline.
TEST_F(scripted, timer_zero_from_inside_a_socket_callback_is_posted) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair pair;
    engine.on_add = [&](CURL*) { engine.timer_cb(0); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT && engine.timeout_actions() == 1) {
            engine.socket_cb(h, pair.local, CURL_POLL_IN);
        } else if (s == pair.local) {
            pair.drain();
            engine.timer_cb(0);  // from inside the action, as curl does after reading
        } else if (s == CURL_SOCKET_TIMEOUT && engine.timeout_actions() == 2) {
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(done.calls, 1);
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(engine.timeout_actions(), 2);
}

// Rule 2: -1 after 0 cancels the pending "soon"; a later arm replaces an earlier one.
TEST_F(scripted, minus_one_after_zero_cancels_and_rearming_replaces) {
    easy handle;
    engine.on_add = [&](CURL*) {
        engine.timer_cb(0);
        engine.timer_cb(-1);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ioc.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(engine.timeout_actions(), 0) << "a cancelled zero timeout still fired";

    // 0 then 30 ms: only the 30 ms arm fires; 30 ms then 0: only the 0 fires.
    engine.timer_cb(0);
    engine.timer_cb(30);
    ioc.run_for(std::chrono::milliseconds(150));
    EXPECT_EQ(engine.timeout_actions(), 1);
    engine.timer_cb(30);
    engine.timer_cb(0);
    ioc.run_for(std::chrono::milliseconds(150));
    EXPECT_EQ(engine.timeout_actions(), 2);

    core->cancel_all();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(done.calls, 1);
    EXPECT_EQ(done.ec, boost::asio::error::operation_aborted);
}

// Rule 7: a socket the reactor refuses fails only the transfer that brought it, later, outside curl; the
// socket callback still answers 0 (checked in TearDown).
TEST_F(scripted, a_registration_failure_fails_only_its_own_transfer) {
    easy failing, healthy;
    socket_pair pair;
    int closed_fd = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(closed_fd, 0);
    ::close(closed_fd);  // a number no socket holds: epoll refuses it
    engine.on_add = [&](CURL* h) {
        if (h == failing.native_handle()) engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT) {
            engine.socket_cb(failing.native_handle(), closed_fd, CURL_POLL_IN);
            engine.socket_cb(healthy.native_handle(), pair.local, CURL_POLL_IN);
        } else if (s == pair.local) {
            pair.drain();
            engine.finish(healthy.native_handle(), CURLE_OK);
        }
    };
    core->initiate(failing.state(), failing_done.handler(), on_the_multi);
    core->initiate(healthy.state(), healthy_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return failing_done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(failing_done.ec, errc::socket_registration);
    EXPECT_NE(failing.error_message().find("refused socket"), std::string_view::npos)
        << failing.error_message();
    EXPECT_FALSE(healthy_done.done()) << "the healthy transfer was failed too";
    EXPECT_EQ(core->stats().registration_failures, 1u);

    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return healthy_done.done(); }, std::chrono::seconds(5)));
    EXPECT_FALSE(healthy_done.ec);
    EXPECT_EQ(failing_done.calls, 1);
    EXPECT_EQ(healthy_done.calls, 1);
}

// Rule 1: a transfer started from inside a curl callback is deferred until curl has returned.
TEST_F(scripted, starting_a_transfer_from_inside_a_callback_is_deferred) {
    easy first, second;
    engine.on_add = [&](CURL* h) {
        if (h == first.native_handle()) engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT || engine.timeout_actions() != 1) return;
        core->initiate(second.state(), second_done.handler(), on_the_multi);  // as a write callback might
        engine.finish(first.native_handle(), CURLE_OK);
    };
    core->initiate(first.state(), first_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return first_done.done() && engine.added.size() == 1; }, std::chrono::seconds(5)));
    EXPECT_EQ(engine.added.front(), second.native_handle());
    core->cancel_all();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(second_done.ec, boost::asio::error::operation_aborted);
}

// Work posted with a transfer's slot and serial (a pause asked for inside curl, rule 9) finds nothing once
// that transfer ended, even when the next transfer already took the same slot.
TEST_F(scripted, a_deferred_pause_never_reaches_the_transfer_that_took_its_slot) {
    easy first, second;
    socket_pair pair;
    engine.on_add = [&](CURL* h) {
        if (h == first.native_handle()) engine.socket_cb(h, pair.local, CURL_POLL_IN);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != pair.local) return;
        pair.drain();
        // Queued before the pause: the second transfer starts (and takes the freed slot) before it runs.
        boost::asio::post(ioc, [&] { core->initiate(second.state(), second_done.handler(), on_the_multi); });
        auto* state = first.state();
        state->transfer.set_pause(state->transfer.runner, *state, CURLPAUSE_RECV);
        engine.socket_cb(first.native_handle(), pair.local, CURL_POLL_REMOVE);
        engine.finish(first.native_handle(), CURLE_OK);
    };
    core->initiate(first.state(), first_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return engine.added.size() == 1; }, std::chrono::seconds(5)));
    const auto first_slot = first.state()->transfer.slot;
    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc,
        [&] {
            return first_done.done() && engine.added.size() == 1 &&
                   engine.added.front() == second.native_handle();
        },
        std::chrono::seconds(5)));
    ioc.poll();
    EXPECT_FALSE(first_done.ec);
    EXPECT_EQ(second.state()->transfer.slot, first_slot) << "the slot was not reused: the test shows nothing";
    EXPECT_TRUE(engine.pauses.empty()) << "the first transfer's pause reached the second";
    core->cancel_all();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_done.done(); }, std::chrono::seconds(5)));
}

// Rule 9: curl_easy_pause(CONT) calls the socket, timer and write callbacks before it returns. The glue
// calls it from the executor with curl off the stack, accepts what those callbacks ask (a new socket, timer
// 0), and a pause requested from inside them (a write callback pausing again) is deferred, not nested.
TEST_F(scripted, unpause_runs_outside_curl_and_accepts_the_callbacks_it_makes) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair pair;
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return engine.added.size() == 1; }, std::chrono::seconds(5)));
    auto set_pause = [&](int bitmask) {
        auto* state = handle.state();
        state->transfer.set_pause(state->transfer.runner, *state, bitmask);
    };
    int calls = 0;
    engine.on_pause = [&](CURL* easy, int) {
        if (calls++ > 0) return;
        engine.socket_cb(easy, pair.local, CURL_POLL_IN);
        engine.timer_cb(0);
        set_pause(CURLPAUSE_RECV);  // as a write callback fed the held-back data might
    };
    boost::asio::post(ioc, [&] { set_pause(CURLPAUSE_CONT); });
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return engine.pauses.size() == 2; }, std::chrono::seconds(5)));
    EXPECT_EQ(engine.pauses[0], std::make_pair(h, CURLPAUSE_CONT));
    EXPECT_EQ(engine.pauses[1], std::make_pair(h, CURLPAUSE_RECV)) << "the nested request was lost";
    EXPECT_EQ(core->stats().pause_calls, 2u);
    EXPECT_EQ(core->stats().live_registrations, 1u)
        << "the socket reported inside the pause was not registered";
    // The socket registered inside the pause works: readiness reaches curl, which finishes the transfer.
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == pair.local) engine.finish(h, CURLE_OK);
    };
    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(core->stats().curl_errors, 0u);
    // Once the transfer ended the handle is no longer busy: a stream's late unpause request stops there.
    EXPECT_FALSE(handle.state()->busy());
}

// One socket_action per readiness: a socket curl waits on both ways, readable and writable in the same
// reactor turn, reaches curl once with both bits (two calls would let curl write before it reads).
TEST_F(scripted, readable_and_writable_at_once_is_one_action_with_both_bits) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair pair;
    pair.poke();  // readable before the waits start; a socketpair with room is writable
    std::vector<int> seen;
    engine.on_add = [&](CURL*) { engine.socket_cb(h, pair.local, CURL_POLL_INOUT); };
    engine.on_action = [&](curl_socket_t s, int events) {
        if (s != pair.local) return;
        seen.push_back(events);
        pair.drain();
        engine.socket_cb(h, pair.local, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    ASSERT_EQ(seen.size(), 1u) << "curl heard one readiness twice";
    EXPECT_EQ(seen.front(), CURL_CSELECT_IN | CURL_CSELECT_OUT);
}

// The Asio contract lets a completion run from another handler on its executor: those a turn makes run at
// its end, once curl has returned, before anything the turn posted (no post, scheduler round and
// epoll_wait(0) each). A handler may destroy the multi there; the turn's other completions still run, once.
TEST_F(scripted, completions_of_one_turn_run_at_its_end_and_survive_a_handler_destroying_the_multi) {
    easy first_handle, second_handle;
    CURL* first = first_handle.native_handle();
    CURL* second = second_handle.native_handle();
    bool posted_by_the_turn_ran = false;
    bool first_saw_the_post = true;
    int second_calls = 0;
    error_code second_ec = boost::asio::error::would_block;
    engine.on_add = [&](CURL*) { engine.timer_cb(0); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        boost::asio::post(ioc, [&] { posted_by_the_turn_ran = true; });
        engine.finish(first, CURLE_OK);
        engine.finish(second, CURLE_OK);
    };
    core->initiate(
        first_handle.state(),
        [&](error_code ec) {
            EXPECT_FALSE(ec);
            first_saw_the_post = posted_by_the_turn_ran;
            core->shutdown();
            core.reset();  // the last reference but the turn's own
        },
        on_the_multi);
    core->initiate(
        second_handle.state(),
        [&](error_code ec) {
            ++second_calls;
            second_ec = ec;
        },
        on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_calls > 0 && posted_by_the_turn_ran; }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(first_saw_the_post) << "the completion was posted behind what the turn posted";
    EXPECT_EQ(second_calls, 1);
    EXPECT_FALSE(second_ec) << "it completed before the multi went: its outcome stands";
    EXPECT_FALSE(core);
}

// A handler that throws leaves through io_context::run, as with a posted completion; the other completions of
// its turn are posted and run once, on the next run.
TEST_F(scripted, a_throwing_handler_leaves_the_rest_of_its_turn_to_run_later) {
    easy first_handle, second_handle;
    CURL* first = first_handle.native_handle();
    CURL* second = second_handle.native_handle();
    engine.on_add = [&](CURL*) { engine.timer_cb(0); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        engine.finish(first, CURLE_OK);
        engine.finish(second, CURLE_OK);
    };
    int first_calls = 0;
    core->initiate(
        first_handle.state(),
        [&](error_code) {
            ++first_calls;
            throw std::runtime_error("from a handler");
        },
        on_the_multi);
    core->initiate(second_handle.state(), second_done.handler(), on_the_multi);
    const bool thrown = a_handler_throws_out_of_run();
    EXPECT_TRUE(thrown);
    EXPECT_EQ(first_calls, 1);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_done.done(); }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(second_done.calls, 1);
    EXPECT_FALSE(second_done.ec);
    EXPECT_EQ(first_calls, 1);
}

// From a completion run at the end of a turn, a handler starts the next transfer and runs the io_context
// until that one completes (a nested run). Nothing is collected while the list is being run: the new
// transfer's completion is posted, so the nested run sees it, and never inside the initiating call.
TEST_F(scripted, a_handler_of_a_turn_may_start_a_transfer_and_run_the_io_context_until_it_completes) {
    easy first_handle, next_handle;
    std::vector<CURL*> to_finish;
    engine.on_add = [&](CURL* added) {
        to_finish.push_back(added);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        for (CURL* h : std::exchange(to_finish, {}))
            engine.finish(h, CURLE_OK);
    };
    bool initiating = false;
    bool next_ran_inside_initiate = false;
    int next_calls = 0;
    bool next_done_in_the_nested_run = false;
    core->initiate(
        first_handle.state(),
        [&](error_code) {
            initiating = true;
            core->initiate(
                next_handle.state(),
                [&](error_code ec) {
                    EXPECT_FALSE(ec);
                    next_ran_inside_initiate = initiating;
                    ++next_calls;
                },
                on_the_multi);
            initiating = false;
            next_done_in_the_nested_run = test::run_until(
                ioc, [&] { return next_calls > 0; }, std::chrono::seconds(5));
            first_done.calls.fetch_add(1);
        },
        on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return first_done.done(); }, std::chrono::seconds(10)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(next_done_in_the_nested_run) << "the nested run never saw the next transfer complete";
    EXPECT_FALSE(next_ran_inside_initiate);
    EXPECT_EQ(next_calls, 1);
    EXPECT_EQ(first_done.calls, 1);
}

// An operation that completes at once (here a refused start: no handle), started by a handler the multi runs
// at the end of a turn, joins that turn's list: it runs after the handler returned, before what the handler
// posted, with no round of the scheduler. A chain of them never recurses, and past the list's capacity the
// rest go through the scheduler (what the handler posted runs in between): the list is never grown.
TEST_F(scripted, operations_completing_at_once_from_a_turns_completion_join_the_turn_without_recursing) {
    easy first_handle;
    finish_at_the_first_timeout(first_handle);
    constexpr int chain_length = 200;
    int refused = 0, depth = 0, deepest = 0, refused_before_the_post = -1;
    bool initiating = false, ran_inline = false;
    std::uint64_t joined = 0;  // completions at the end of a turn, from the first's on
    std::function<void(error_code)> next = [&](error_code ec) {
        ran_inline |= initiating;
        deepest = std::max(deepest, ++depth);
        EXPECT_EQ(ec, errc::empty_handle);
        if (++refused < chain_length) {
            initiating = true;
            core->initiate(
                nullptr, [&](error_code e) { next(e); }, on_the_multi);
            initiating = false;
        }
        --depth;
    };
    core->initiate(
        first_handle.state(),
        [&](error_code ec) {
            EXPECT_FALSE(ec);
            joined = core->stats().completions_at_turn_end;
            boost::asio::post(ioc, [&] { refused_before_the_post = refused; });
            initiating = true;
            core->initiate(
                nullptr, [&](error_code e) { next(e); }, on_the_multi);
            initiating = false;
        },
        on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return refused == chain_length && refused_before_the_post >= 0; },
        std::chrono::seconds(5)));
    joined = core->stats().completions_at_turn_end - joined;
    EXPECT_FALSE(ran_inline) << "a completion ran inside its initiating call";
    EXPECT_EQ(deepest, 1) << "a chain of completions at once recursed";
    EXPECT_GT(refused_before_the_post, 0) << "the first refusal was posted behind what the handler posted";
    EXPECT_LT(refused_before_the_post, chain_length) << "the chain held the thread past the list's capacity";
    EXPECT_GT(joined, 1u);
    EXPECT_LT(joined, static_cast<std::uint64_t>(chain_length));
}

// A handler of a turn that runs the io_context itself (a nested run: Asio leaves its deadlocks to the caller)
// still gets what completes at once inside that run: an operation started there is posted, not joined to the
// outer turn's list, which only runs once the handler returns.
TEST_F(scripted, an_operation_completing_at_once_inside_a_nested_run_completes_in_that_run) {
    easy first_handle;
    finish_at_the_first_timeout(first_handle);
    int refused = 0;
    bool seen_in_the_nested_run = false;
    core->initiate(
        first_handle.state(),
        [&](error_code) {
            boost::asio::post(ioc, [&] { start_refused(refused); });
            seen_in_the_nested_run = test::run_until(
                ioc, [&] { return refused > 0; }, std::chrono::seconds(5));
            first_done.calls.fetch_add(1);
        },
        on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return first_done.done(); }, std::chrono::seconds(10)));
    EXPECT_TRUE(seen_in_the_nested_run) << "the completion waited for the outer turn's list";
    EXPECT_EQ(refused, 1);
}

// A handler of a turn starts an operation that completes at once (it joins the list) and then throws: the
// exception leaves through io_context::run, and the joined completion, like the rest of the turn, is posted
// and runs once, on the next run.
TEST_F(scripted, a_completion_joined_by_a_handler_that_then_throws_runs_once_later) {
    easy first_handle;
    finish_at_the_first_timeout(first_handle);
    int first_calls = 0, refused = 0;
    std::uint64_t joined = 0;
    core->initiate(
        first_handle.state(),
        [&](error_code) {
            ++first_calls;
            const std::uint64_t before = core->stats().completions_at_turn_end;
            start_refused(refused);
            joined = core->stats().completions_at_turn_end - before;
            throw std::runtime_error("after starting an operation");
        },
        on_the_multi);
    const bool thrown = a_handler_throws_out_of_run();
    ASSERT_TRUE(thrown);
    EXPECT_EQ(joined, 1u) << "the refusal did not join the turn: this test no longer covers the join";
    EXPECT_EQ(refused, 0) << "the joined completion ran on the exception's way out";
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return refused > 0; }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_EQ(refused, 1);
    EXPECT_EQ(first_calls, 1);
}

// A handler of a turn shuts the multi down and drops it while another of its transfers still runs: that
// transfer's operation_aborted, made inside the handler, joins the turn's list. It runs once, after the
// handler returned (never inside shutdown()), before what the handler posted; the multi lives until then.
TEST_F(scripted, a_transfer_aborted_by_a_turns_handler_destroying_the_multi_completes_once_after_it) {
    easy first_handle, second_handle;
    finish_at_the_first_timeout(first_handle);  // the second runs on
    bool in_first = false, posted_ran = false;
    bool second_ran_inside_the_handler = false, second_saw_the_post = false;
    int second_calls = 0;
    error_code second_ec;
    core->initiate(
        first_handle.state(),
        [&](error_code ec) {
            EXPECT_FALSE(ec);
            boost::asio::post(ioc, [&] { posted_ran = true; });
            in_first = true;
            core->shutdown();
            core.reset();
            in_first = false;
        },
        on_the_multi);
    core->initiate(
        second_handle.state(),
        [&](error_code ec) {
            second_ran_inside_the_handler |= in_first;
            second_saw_the_post = posted_ran;
            ++second_calls;
            second_ec = ec;
        },
        on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_calls > 0 && posted_ran; }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(core);
    EXPECT_EQ(second_calls, 1);
    EXPECT_EQ(second_ec, boost::asio::error::operation_aborted);
    EXPECT_FALSE(second_ran_inside_the_handler) << "the abort ran inside shutdown()";
    EXPECT_FALSE(second_saw_the_post) << "the abort was posted behind what the handler posted";
}

// Collected readiness is checked against curl's interest when it is delivered: one direction only ready
// still reaches curl (one turn later), and a socket curl REMOVEd meanwhile hears nothing.
TEST_F(scripted, readiness_of_one_direction_while_both_are_awaited_still_reaches_curl) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair pair;
    // Fill the send buffer: writable never, readable once poked.
    const std::string chunk(65536, 'x');
    while (::write(pair.local, chunk.data(), chunk.size()) > 0) {}
    std::vector<int> seen;
    engine.on_add = [&](CURL*) { engine.socket_cb(h, pair.local, CURL_POLL_INOUT); };
    engine.on_action = [&](curl_socket_t s, int events) {
        if (s != pair.local) return;
        seen.push_back(events);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ioc.run_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(seen.empty());
    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen.front(), CURL_CSELECT_IN);
}

// ---- rule 3, parked: a connection's socket stays registered across curl's REMOVE ----

// Whether `fd` is in an epoll set of this process (the fixture's io_context is its only one): read from
// /proc/self/fdinfo of each eventpoll descriptor, the kernel's own view, not Asio's.
// The events `fd` is watched for there (EPOLLIN, EPOLLOUT, ...), or -1.
long epoll_events_of(int fd) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const auto target = std::filesystem::read_symlink(entry.path(), ec);
        if (ec || target.string() != "anon_inode:[eventpoll]") continue;
        std::ifstream info("/proc/self/fdinfo/" + entry.path().filename().string());
        for (std::string line; std::getline(info, line);) {
            int watched = -1;
            unsigned events = 0;
            if (std::sscanf(line.c_str(), "tfd: %d events: %x", &watched, &events) == 2 && watched == fd)
                return static_cast<long>(events);
        }
    }
    return -1;
}
bool epoll_watches(int fd) {
    return epoll_events_of(fd) >= 0;
}

// A socket made by the glue's open-socket callback, as curl would have it made, connected to a peer that the
// test writes to (an abstract AF_UNIX address: nothing on disk, nothing off the machine).
struct glue_socket {
    int fd = -1, peer = -1, listener = -1;
    sockaddr_un address{};
    socklen_t length = 0;

    // Without `open_now`, only the listener exists until open(): its number is taken before the socket's.
    explicit glue_socket(core_type& core, bool open_now = true) {
        listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
        address.sun_family = AF_UNIX;
        const std::string name =
            "asiocurl-parked-" + std::to_string(::getpid()) + "-" + std::to_string(next++);
        std::memcpy(address.sun_path + 1, name.data(), name.size());
        length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener, 1) != 0)
            return;
        if (open_now) open(core);
    }
    void open(core_type& core) {
        curl_sockaddr wanted{};
        wanted.family = AF_UNIX;
        wanted.socktype = SOCK_STREAM;
        fd = core_type::on_open_socket(&core, CURLSOCKTYPE_IPCXN, &wanted);
        if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0)
            peer = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
        if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);  // as curl makes it
        ::close(std::exchange(listener, -1));
    }
    ~glue_socket() {
        if (peer >= 0) ::close(peer);
        if (listener >= 0) ::close(listener);
    }
    void poke() const { (void)!::write(peer, "x", 1); }
    void drain() const {
        char buffer[64];
        while (::read(fd, buffer, sizeof buffer) > 0) {}
    }
    static inline int next = 0;
};

// Keep-alive as curl 7.88 does it, on `socket`: the first transfer connects (OUT), reads (IN), REMOVEs the
// socket and keeps the connection; the second reports the same socket, to read, with no socketp.
void script_keep_alive(scripted_engine& engine, const glue_socket& socket, easy& first, easy& second) {
    const int fd = socket.fd;
    engine.on_add = [&engine, fd, &first, &second](CURL* h) {
        if (h == first.native_handle()) engine.socket_cb(h, fd, CURL_POLL_OUT);
        if (h == second.native_handle()) engine.socket_cb(h, fd, CURL_POLL_IN);
    };
    engine.on_action = [&engine, fd, &socket](curl_socket_t s, int events) {
        if (s != fd) return;
        CURL* h = engine.added.front();
        if (events == CURL_CSELECT_OUT) return (void)engine.socket_cb(h, fd, CURL_POLL_IN);
        socket.drain();
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
}

bool scripted::keep_alive_first_connects(const glue_socket& socket, easy& first, easy& second) {
    script_keep_alive(engine, socket, first, second);
    core->initiate(first.state(), first_done.handler(), on_the_multi);
    return test::run_until(
        ioc, [&] { return actions_on(socket.fd) == 1; }, std::chrono::seconds(5));
}

bool scripted::poked_until_done(const glue_socket& socket, const completion& transfer) {
    socket.poke();
    return test::run_until(
        ioc, [&] { return transfer.done(); }, std::chrono::seconds(5));
}

bool scripted::keep_alive_second_started(easy& second) {
    core->initiate(second.state(), second_done.handler(), on_the_multi);
    return test::run_until(
        ioc, [&] { return engine.added.size() == 1 && engine.added.front() == second.native_handle(); },
        std::chrono::seconds(5));
}

// ---- rule 6, reading alone: a connected socket is not watched for writing ----

// curl waits to write while a socket connects (or while a request does not fit the send buffer), then only
// to read. Asio's epoll reactor keeps EPOLLOUT in a descriptor's mask once a write wait was queued on it, and
// re-arms that mask for every read wait: a connected socket is writable, so every read wait then woke the
// reactor with an EPOLLOUT no wait asked for (2.2 spurious events a trickled transfer, 1.9x the bare loop's
// epoll_wait calls). Once curl wants to read alone, the socket is watched for reading alone.
TEST_F(scripted, a_socket_that_connected_is_watched_for_reading_alone) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    engine.on_add = [&](CURL*) { engine.socket_cb(h, fd, CURL_POLL_OUT); };
    engine.on_action = [&](curl_socket_t s, int events) {
        if (s != fd) return;
        if (events == CURL_CSELECT_OUT) return (void)engine.socket_cb(h, fd, CURL_POLL_IN);
        socket.drain();
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return actions_on(fd) == 1; }, std::chrono::seconds(5)));
    ioc.run_for(std::chrono::milliseconds(20));
    const long events = epoll_events_of(fd);
    ASSERT_GE(events, 0) << "the socket left epoll";
    EXPECT_TRUE(events & EPOLLIN);
    EXPECT_FALSE(events & EPOLLOUT) << "a socket curl only reads from is still watched for writing";
    EXPECT_EQ(actions_on(fd), 1);
    EXPECT_EQ(core->stats().reregistered_for_reading, 1u);
    socket.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "readiness was lost when the socket was watched afresh";
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(actions_on(fd), 2);
    EXPECT_EQ(core->stats().registrations_created, 1u);
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
}

// The switch happens with a read wait queued (curl wanted both directions) and a byte already there: the byte
// still reaches curl, once.
TEST_F(scripted, readiness_at_the_switch_to_reading_alone_is_not_lost) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    const std::string chunk(65536, 'x');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {}  // never writable: the OUT wait stays queued
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, fd, CURL_POLL_INOUT);
        engine.timer_cb(0);
    };
    std::vector<int> seen;
    engine.on_action = [&](curl_socket_t s, int events) {
        if (s == CURL_SOCKET_TIMEOUT) {
            socket.poke();
            engine.socket_cb(h, fd, CURL_POLL_IN);
            return;
        }
        seen.push_back(events);
        socket.drain();
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the byte that arrived at the switch was never reported";
    ioc.run_for(std::chrono::milliseconds(20));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen.front(), CURL_CSELECT_IN);
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
}

// Rule 7 on the switch: the reactor refuses the socket when it is watched afresh (its number was closed
// behind the glue's back): only the transfer that reported it fails, later and from outside curl.
TEST_F(scripted, a_socket_refused_at_the_switch_to_reading_alone_fails_only_its_own_transfer) {
    easy failing, healthy;
    CURL* f = failing.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    socket_pair pair;
    engine.on_add = [&](CURL* h) {
        if (h == f) engine.socket_cb(f, fd, CURL_POLL_OUT);
        if (h == healthy.native_handle()) engine.socket_cb(h, pair.local, CURL_POLL_IN);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == fd) {
            ::close(fd);  // not through the callback; epoll forgets it with the close
            engine.socket_cb(f, fd, CURL_POLL_IN);
        } else if (s == pair.local) {
            pair.drain();
            engine.finish(healthy.native_handle(), CURLE_OK);
        }
    };
    core->initiate(healthy.state(), healthy_done.handler(), on_the_multi);
    core->initiate(failing.state(), failing_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return failing_done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(failing_done.ec, errc::socket_registration);
    EXPECT_EQ(core->stats().registration_failures, 1u);
    EXPECT_FALSE(healthy_done.done()) << "the healthy transfer was failed too";
    pair.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return healthy_done.done(); }, std::chrono::seconds(5)));
    EXPECT_FALSE(healthy_done.ec);
    EXPECT_EQ(failing_done.calls, 1);
    EXPECT_EQ(healthy_done.calls, 1);
}

// Keep-alive as curl 7.88 does it: the first transfer connects (OUT), reads (IN), REMOVEs the socket and
// keeps the connection; the next reports the same socket with no socketp. The registration is parked, not
// released: the fd stays in epoll, the next report creates nothing, readiness reaches curl, and the close
// through the callback takes it out of epoll.
TEST_F(scripted, a_connection_socket_is_parked_on_remove_and_reused_by_the_next_transfer) {
    easy first, second;
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    ASSERT_TRUE(keep_alive_first_connects(socket, first, second));
    ASSERT_TRUE(poked_until_done(socket, first_done));
    EXPECT_FALSE(first_done.ec);
    EXPECT_EQ(core->stats().live_registrations, 0u);
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    EXPECT_TRUE(epoll_watches(fd)) << "the parked socket left epoll";
    EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "parking closed curl's socket";

    ASSERT_TRUE(keep_alive_second_started(second));
    EXPECT_EQ(core->stats().registrations_created, 1u) << "the kept-alive socket was registered anew";
    EXPECT_EQ(core->stats().registrations_reused, 1u);
    EXPECT_EQ(core->stats().live_registrations, 1u);
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    ASSERT_TRUE(poked_until_done(socket, second_done)) << "the reused registration lost its readiness";
    EXPECT_FALSE(second_done.ec);
    EXPECT_EQ(actions_on(fd), 3);

    // curl closes the cached connection through the callback: the registration goes, the fd leaves epoll.
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    EXPECT_EQ(core->stats().closed_before_remove, 0u) << "a parked close is the ordinary case";
    EXPECT_FALSE(epoll_watches(fd));
    EXPECT_EQ(core->stats().curl_errors, 0u);
}

// A read wait still queued when curl REMOVEs the socket (from another socket's action) completes while the
// registration is parked: nothing reaches curl then. Reported again, the unread byte does reach it.
TEST_F(scripted, readiness_while_parked_is_dropped_and_seen_again_once_curl_asks) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, fd, CURL_POLL_IN);
        engine.timer_cb(0);
    };
    bool report_again = false;
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT && !report_again) engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        if (s == CURL_SOCKET_TIMEOUT && report_again) engine.socket_cb(h, fd, CURL_POLL_IN);
        if (s == fd) engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return engine.timeout_actions() == 1; }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    socket.poke();  // completes the wait queued before the REMOVE
    ioc.run_for(std::chrono::milliseconds(50));
    EXPECT_EQ(actions_on(fd), 0) << "readiness of a parked socket reached curl";
    report_again = true;
    boost::asio::post(ioc, [&] { engine.timer_cb(0); });
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the byte that arrived while parked was never reported";
    EXPECT_EQ(actions_on(fd), 1);
    EXPECT_EQ(core->stats().registrations_reused, 1u);
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
}

// curl REMOVEs a connection from an action the timer started (7.88 and 8.x do so after reading a large
// body in several actions: curl stops after 100 reads and asks for the timer) while the socket's read wait
// is still queued. Parked with that wait, the registration held the io_context's work: run() never returned
// with every transfer done (the 16 MiB benchmark hung in 20 runs of 30).
TEST_F(scripted, a_parked_registration_holds_no_work) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, fd, CURL_POLL_IN);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ioc.run_for(std::chrono::seconds(2));
    EXPECT_TRUE(ioc.stopped()) << "run() did not return with the only transfer done";
    EXPECT_TRUE(done.done());
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    EXPECT_TRUE(epoll_watches(fd)) << "the parked socket left epoll";

    // Reused, the registration waits again and the unread byte reaches curl.
    easy next;
    CURL* n = next.native_handle();
    engine.on_add = [&](CURL*) { engine.socket_cb(n, fd, CURL_POLL_IN); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == fd) engine.finish(n, CURLE_OK);
    };
    socket.poke();
    ioc.restart();
    core->initiate(next.state(), second_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_done.done(); }, std::chrono::seconds(5)))
        << "the reused registration never saw the byte";
    EXPECT_EQ(actions_on(fd), 1);
    EXPECT_EQ(core->stats().registrations_reused, 1u);
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
}

// The same with another transfer still running when the connection is parked: run() goes on for that one,
// and returns once it ends. (Keeping the queued wait for the connection's next transfer while others run was
// tried: under load its instruction counts swung by more than it could save, so parking cancels at once.)
TEST_F(scripted, a_parked_wait_does_not_outlive_the_last_transfer) {
    easy parked_one, running_one;
    CURL* p = parked_one.native_handle();
    CURL* r = running_one.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    bool finish_running = false;
    engine.on_add = [&](CURL* h) {
        if (h == p) engine.socket_cb(p, fd, CURL_POLL_IN);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        if (!first_done.done() && engine.added.size() == 2) {
            engine.socket_cb(p, fd, CURL_POLL_REMOVE);
            engine.finish(p, CURLE_OK);
        }
        if (finish_running) engine.finish(r, CURLE_OK);
    };
    core->initiate(running_one.state(), second_done.handler(), on_the_multi);
    core->initiate(parked_one.state(), first_done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return first_done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    ioc.run_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(ioc.stopped()) << "a transfer still runs";
    finish_running = true;
    boost::asio::post(ioc, [&] { engine.timer_cb(0); });
    ioc.run_for(std::chrono::seconds(2));
    EXPECT_TRUE(second_done.done());
    EXPECT_TRUE(ioc.stopped()) << "a parked wait outlived the last transfer";
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
}

// Rules 3 and 4 on the release path: the threaded resolver's wake-up descriptor (a socketpair the glue did
// not open) is released on REMOVE. And a parked number, closed through the callback, taken by such a
// descriptor: that one gets a registration of its own, released on its REMOVE.
TEST_F(scripted, sockets_the_glue_did_not_open_are_released_on_remove_even_under_a_parked_number) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair resolver;
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    int step = 0;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, resolver.local, CURL_POLL_IN);
        engine.socket_cb(h, fd, CURL_POLL_IN);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == resolver.local && step == 0) {
            step = 1;
            resolver.drain();
            engine.socket_cb(h, resolver.local, CURL_POLL_REMOVE);
        } else if (s == fd && step == 1) {
            step = 2;
            socket.drain();
            engine.socket_cb(h, fd, CURL_POLL_REMOVE);
            // curl closes the connection through the callback, and the number goes to a descriptor that is
            // not the glue's, which curl reports.
            EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
            ASSERT_EQ(::dup2(resolver.local, fd), fd);
            engine.socket_cb(h, fd, CURL_POLL_IN);
        } else if (s == fd && step == 2) {
            step = 3;
            engine.socket_cb(h, fd, CURL_POLL_REMOVE);
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    resolver.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return step == 1; }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 0u) << "the resolver's descriptor was parked";
    EXPECT_FALSE(epoll_watches(resolver.local));
    socket.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return step == 2; }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    EXPECT_EQ(core->stats().registrations_reused, 0u) << "a parked registration served another socket";
    EXPECT_EQ(core->stats().registrations_created, 3u);
    resolver.poke();  // readable through both numbers: the new registration must hear it
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the descriptor under the parked number lost its readiness";
    EXPECT_EQ(core->stats().parked_registrations, 0u) << "a descriptor the glue did not open was parked";
    EXPECT_FALSE(epoll_watches(fd));
    ::close(fd);
}

// A connection whose response came within the call that sent the request: curl REMOVEs the socket without
// ever having asked to read it. Still the socket the glue opened (same inode), it is parked all the same, and
// its next report reuses the registration.
TEST_F(scripted, a_socket_curl_never_asked_to_read_is_parked_while_it_is_still_the_glues) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    engine.on_add = [&](CURL*) { engine.socket_cb(h, fd, CURL_POLL_OUT); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != fd) return;
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    EXPECT_TRUE(epoll_watches(fd));
    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
    EXPECT_EQ(core->stats().parked_registrations, 0u);
}

// curl 7.88 closes an abandoned connect attempt with a bare close(2): no callback, its REMOVE after. Neither
// such a socket nor a descriptor that took its number before curl first reported it may be parked: the
// glue would never hear of their close.
TEST_F(scripted, a_socket_closed_behind_the_glues_back_is_never_parked) {
    easy handle;
    CURL* h = handle.native_handle();
    socket_pair resolver;
    glue_socket attempt(*core), unreported(*core);
    ASSERT_GE(attempt.peer, 0);
    ASSERT_GE(unreported.peer, 0);
    const int attempt_fd = attempt.fd, unreported_fd = unreported.fd;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, attempt_fd, CURL_POLL_OUT);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT) {
            // The connect attempt is abandoned: closed bare, then REMOVEd.
            ::close(attempt_fd);
            engine.socket_cb(h, attempt_fd, CURL_POLL_REMOVE);
            // The other glue socket is closed bare before curl ever reported it, and the resolver's
            // descriptor takes its number.
            ASSERT_EQ(::dup2(resolver.local, unreported_fd), unreported_fd);
            engine.socket_cb(h, unreported_fd, CURL_POLL_IN);
        } else if (s == unreported_fd) {
            resolver.drain();
            engine.socket_cb(h, unreported_fd, CURL_POLL_REMOVE);
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    resolver.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_EQ(core->stats().parked_registrations, 0u)
        << "a socket whose close the glue cannot see was parked";
    EXPECT_FALSE(epoll_watches(unreported_fd));
    ::close(unreported_fd);
}

// Rule 4 at open: a registration still alive under the number the open-socket callback just got belonged to
// a socket closed without the callback; it is released then (its EPOLL_CTL_DEL harmless, the new socket not
// yet in epoll), and the new socket, reported with the old socketp, gets a registration that hears it.
TEST_F(scripted, a_new_socket_under_a_number_closed_behind_the_glues_back_gets_its_own_registration) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket abandoned(*core);
    ASSERT_GE(abandoned.peer, 0);
    const int fd = abandoned.fd;
    glue_socket next(*core, false);
    std::vector<int> fillers;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, fd, CURL_POLL_IN);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s == CURL_SOCKET_TIMEOUT) {
            ::close(fd);  // bare, as 7.88 closes an abandoned attempt; no REMOVE yet
            // socket() returns the lowest free number: take the free ones below `fd` first.
            for (int taken; (taken = ::open("/dev/null", O_RDONLY)) != fd;) {
                if (taken < 0 || taken > fd) return ADD_FAILURE() << "no way to hand out " << fd << " again";
                fillers.push_back(taken);
            }
            ::close(fd);
            next.open(*core);
            ASSERT_EQ(next.fd, fd);
            EXPECT_EQ(core->stats().live_registrations, 0u) << "the stale registration outlived the open";
            engine.socket_cb(h, fd, CURL_POLL_IN);  // curl's table still holds the old socketp
        } else if (s == fd) {
            next.drain();
            engine.finish(h, CURLE_OK);
        }
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return next.fd == fd; }, std::chrono::seconds(5)));
    EXPECT_TRUE(epoll_watches(fd));
    next.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)))
        << "the new socket under the reused number lost its readiness";
    EXPECT_EQ(core->stats().registrations_created, 2u);
    core->shutdown();
    ::close(fd);
    for (int filler : fillers)
        ::close(filler);
}

// Shutdown lets go of parked registrations (curl_multi_cleanup closes cached connections through the
// callback; one it did not close is released all the same), and never closes curl's fd.
TEST_F(scripted, shutdown_releases_parked_registrations_and_leaves_the_fd_open) {
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    engine.on_add = [&](CURL*) { engine.socket_cb(h, fd, CURL_POLL_IN); };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != fd) return;
        socket.drain();
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    socket.poke();
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    ASSERT_EQ(core->stats().parked_registrations, 1u);
    core->shutdown();
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    EXPECT_FALSE(epoll_watches(fd));
    EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "shutdown closed curl's socket";
    ::close(fd);
}

// ---- the glue's own numbers (curl before 8.5) ----

// curl 7.88 closes a connect attempt it abandons with a bare close(2) and REMOVEs it after. Between the two,
// another thread of an io_context several threads run may get the number for a descriptor of its own and
// register it in the same epoll. Releasing the glue's registration by number (Asio's EPOLL_CTL_DEL) would
// take that descriptor out of epoll, and its waits would never complete. Watched through the glue's own
// duplicate, the release names the glue's number. (With watch_own_numbers(false) this fails: the other
// descriptor leaves epoll.)
TEST_F(scripted, a_number_closed_bare_and_taken_by_another_descriptor_keeps_that_descriptor_in_epoll) {
    core->watch_own_numbers(true);
    easy handle;
    CURL* h = handle.native_handle();
    glue_socket attempt(*core);
    ASSERT_GE(attempt.peer, 0);
    const int fd = attempt.fd;
    socket_pair other_thread;
    boost::asio::posix::stream_descriptor other(ioc);
    bool other_ready = false;
    int watched = -1;
    engine.on_add = [&](CURL*) {
        engine.socket_cb(h, fd, CURL_POLL_OUT);
        watched = core->reactor_number(fd);
        engine.timer_cb(0);
    };
    engine.on_action = [&](curl_socket_t s, int) {
        if (s != CURL_SOCKET_TIMEOUT) return;
        ::close(fd);  // the attempt abandoned, bare
        ASSERT_EQ(::dup2(other_thread.local, fd), fd);
        other.assign(fd);
        other.async_wait(boost::asio::posix::descriptor_base::wait_read,
                         [&](const error_code& ec) { other_ready = !ec; });
        engine.socket_cb(h, fd, CURL_POLL_REMOVE);
        engine.finish(h, CURLE_OK);
    };
    core->initiate(handle.state(), done.handler(), on_the_multi);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, std::chrono::seconds(5)));
    EXPECT_NE(watched, fd) << "the reactor watched curl's own number";
    EXPECT_GE(watched, 0);
    EXPECT_FALSE(epoll_watches(watched)) << "the glue's duplicate outlived its registration";
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    EXPECT_TRUE(epoll_watches(fd)) << "the glue's release took another descriptor out of epoll";
    other_thread.poke();
    EXPECT_TRUE(test::run_until(
        ioc, [&] { return other_ready; }, std::chrono::seconds(5)))
        << "the other descriptor's wait never completed";
}

// The whole life of a connection watched through the glue's duplicate: registered, parked on REMOVE (the
// duplicate stays in epoll, curl's socket open), reused with its readiness, and closed through the callback
// (the duplicate closed with it; TearDown finds no descriptor left open).
TEST_F(scripted, a_connection_watched_through_the_glues_own_number_is_parked_reused_and_closed) {
    core->watch_own_numbers(true);
    easy first, second;
    glue_socket socket(*core);
    ASSERT_GE(socket.peer, 0);
    const int fd = socket.fd;
    ASSERT_TRUE(keep_alive_first_connects(socket, first, second));
    const int watched = core->reactor_number(fd);
    EXPECT_NE(watched, fd);
    EXPECT_TRUE(epoll_watches(watched));
    EXPECT_FALSE(epoll_watches(fd)) << "curl's own number is in epoll too";
    ASSERT_TRUE(poked_until_done(socket, first_done));
    EXPECT_EQ(core->stats().parked_registrations, 1u);
    EXPECT_TRUE(epoll_watches(watched)) << "the parked socket left epoll";
    EXPECT_NE(::fcntl(fd, F_GETFD), -1) << "parking closed curl's socket";

    ASSERT_TRUE(keep_alive_second_started(second));
    EXPECT_EQ(core->stats().registrations_reused, 1u);
    EXPECT_EQ(core->reactor_number(fd), watched);
    ASSERT_TRUE(poked_until_done(socket, second_done)) << "the reused registration lost its readiness";
    EXPECT_FALSE(second_done.ec);

    EXPECT_EQ(core_type::on_close_socket(core.get(), fd), 0);
    EXPECT_EQ(core->stats().parked_registrations, 0u);
    EXPECT_FALSE(epoll_watches(watched));
    EXPECT_EQ(::fcntl(watched, F_GETFD), -1) << "the glue's duplicate was left open";
}

}  // namespace
}  // namespace asiocurl

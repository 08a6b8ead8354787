// The glue against the scripted engine: callback orders a real server cannot provoke on demand
// (DESIGN rules 1, 2, 4, 7, 9).
#include <asiocurl/detail/impl/multi_core.ipp>
#include <asiocurl/easy.hpp>

#include "scripted_engine.hpp"
#include "test_helpers.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace asiocurl {
namespace {

using test::completion;
using test::scripted_engine;
using core_type = detail::multi_core<scripted_engine>;

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

class scripted : public ::testing::Test {
protected:
    boost::asio::io_context ioc;
    boost::asio::steady_timer reactor_started{ioc};  // the reactor's own fds exist before the baseline
    test::fd_baseline fds;
    boost::intrusive_ptr<core_type> core = core_type::create(ioc.get_executor());
    scripted_engine& engine = core->engine();
    // Completions live in the fixture: after a failed ASSERT, TearDown's shutdown still completes them.
    completion done, failing_done, healthy_done, first_done, second_done;

    void TearDown() override {
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
    core->initiate(handle.state(), done.handler(), true);
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
    core->initiate(handle.state(), done.handler(), true);
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
    core->initiate(handle.state(), done.handler(), true);
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
    core->initiate(handle.state(), done.handler(), true);
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
    core->initiate(failing.state(), failing_done.handler(), true);
    core->initiate(healthy.state(), healthy_done.handler(), true);
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
        core->initiate(second.state(), second_done.handler(), true);  // as a write callback might
        engine.finish(first.native_handle(), CURLE_OK);
    };
    core->initiate(first.state(), first_done.handler(), true);
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
        boost::asio::post(ioc, [&] { core->initiate(second.state(), second_done.handler(), true); });
        auto* state = first.state();
        state->transfer.set_pause(state->transfer.runner, *state, CURLPAUSE_RECV);
        engine.socket_cb(first.native_handle(), pair.local, CURL_POLL_REMOVE);
        engine.finish(first.native_handle(), CURLE_OK);
    };
    core->initiate(first.state(), first_done.handler(), true);
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
    core->initiate(handle.state(), done.handler(), true);
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

}  // namespace
}  // namespace asiocurl

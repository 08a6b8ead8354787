// The reactor glue against real libcurl and the loopback test server (DESIGN rules 2-11).
#include "multi_fixture.hpp"

#include <fcntl.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;
using test::completion;
using test::multi_test;

TEST_F(multi_test, fetches_a_body_and_leaves_the_handle_reusable) {
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, server.url("/bytes/100000"));
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    EXPECT_EQ(body, test::expected_body(100000));
    EXPECT_EQ(handle.info<long>(CURLINFO_RESPONSE_CODE), 200);
    body.clear();
    handle.set(CURLOPT_URL, server.url("/chunked/70000?chunk=1000"));
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    EXPECT_EQ(body, test::expected_body(70000));
    EXPECT_EQ(m->in_flight(), 0u);
    EXPECT_EQ(m->stats().curl_errors, 0u);
}

// Rule 5: nothing assumes IPv4.
TEST_F(multi_test, fetches_over_ipv6) {
    test::test_server v6(test::test_server::options{.ipv6 = true});
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, v6.url("/chunked/20000"));
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    EXPECT_EQ(body, test::expected_body(20000));
    EXPECT_EQ(handle.info<std::string>(CURLINFO_PRIMARY_IP), "::1");
    m.reset();
    EXPECT_TRUE(v6.wait_for_idle(5s));
}

// Rule 6: an upload wants CURL_POLL_OUT, then IN, or both at once; 4 MB each way, byte-exact.
TEST_F(multi_test, uploads_and_reads_back_four_megabytes) {
    const std::string sent = test::expected_body(4 << 20);
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, server.url("/echo"));
    handle.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(sent.size()));
    handle.set(CURLOPT_POSTFIELDS, sent.c_str());
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    EXPECT_EQ(body.size(), sent.size());
    EXPECT_TRUE(body == sent);
}

// Rule 3: REMOVE of an idle keep-alive socket does not close it; 200 transfers share one connection. The
// promise is the reuse: one socket opened, one connection counted by curl and accepted by the server, the fd
// count flat. At the end of each transfer curl no longer watches the idle socket (its REMOVE came: no live
// registration) and the socket is still open and still ours. How often curl REMOVEs and re-ADDs it in between
// is curl's business (7.88 around almost every transfer, 8.x far less, both depending on timing), but the
// glue registers the socket once: REMOVE parks the registration and every later report reuses it (rule 3,
// parked), so there is no EPOLL_CTL_DEL/ADD per transfer.
TEST_F(multi_test, keep_alive_reuses_one_connection_for_200_transfers) {
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, server.url("/bytes/1000"));
    std::vector<curl_socket_t> opened;
    handle.set(
        CURLOPT_SOCKOPTFUNCTION, +[](void* list, curl_socket_t fd, curlsocktype) {
            static_cast<std::vector<curl_socket_t>*>(list)->push_back(fd);
            return int{CURL_SOCKOPT_OK};
        });
    handle.set(CURLOPT_SOCKOPTDATA, &opened);
    long connects = 0;
    std::size_t fds_after_first = 0;
    const auto before = m->stats();
    for (int i = 0; i < 200; ++i) {
        body.clear();
        ASSERT_FALSE(perform(handle)) << "transfer " << i << ": " << handle.error_message();
        ASSERT_EQ(body, test::expected_body(1000));
        connects += handle.info<long>(CURLINFO_NUM_CONNECTS);
        ASSERT_EQ(opened.size(), 1u) << "a new connection was opened for transfer " << i;
        EXPECT_EQ(m->stats().live_registrations, 0u) << "curl still watches the idle socket";
        ASSERT_NE(::fcntl(opened.front(), F_GETFD), -1) << "the cached socket was closed";
        if (i == 0) fds_after_first = test::open_fd_count();
        EXPECT_EQ(test::open_fd_count(), fds_after_first) << "after transfer " << i;
    }
    EXPECT_EQ(connects, 1);
    EXPECT_EQ(server.accepted_connections(), 1u);
    EXPECT_EQ(m->stats().curl_errors, 0u);
    EXPECT_EQ(m->stats().registrations_created - before.registrations_created, 1u)
        << "the kept-alive socket was registered again after a REMOVE";
    EXPECT_LE(m->stats().parked_registrations, 1u);
    std::printf(
        "200 keep-alive transfers: %llu registration(s), reused %llu times\n",
        static_cast<unsigned long long>(m->stats().registrations_created - before.registrations_created),
        static_cast<unsigned long long>(m->stats().registrations_reused - before.registrations_reused));
}

// curl's own cache of idle connections holds 4 x the handles added at the moment a connection goes back to
// it, and the multi removes each handle when its transfer ends: a transfer that ended alone made curl close
// all but four of the connections that eight concurrent ones had opened, and the next eight opened them
// again. The multi sizes the cache by the most transfers it ran at once instead.
TEST_F(multi_test, connections_of_a_burst_stay_cached_while_fewer_transfers_run) {
    constexpr int burst = 8;
    auto run_burst = [&](int count) {
        std::vector<std::unique_ptr<easy>> handles;
        std::vector<std::unique_ptr<completion>> done;
        for (int i = 0; i < count; ++i) {
            handles.push_back(std::make_unique<easy>());
            done.push_back(std::make_unique<completion>());
            // Two bytes 200 ms apart: the transfers of a burst overlap, each on a connection of its own.
            handles.back()->set(CURLOPT_URL, server.url("/trickle/2?chunk=1&interval_ms=200"));
            handles.back()->discard_body();
            m->async_perform(*handles.back(), done.back()->handler());
        }
        ASSERT_TRUE(test::run_until(ioc, [&] {
            return std::all_of(done.begin(), done.end(), [](const auto& d) { return d->done(); });
        }));
        for (const auto& d : done)
            EXPECT_FALSE(d->ec) << d->ec.message();
    };
    run_burst(burst);
    // Each on its own connection unless a stalled machine let one end before another began: more than the
    // four a lone transfer's cache would keep either way.
    ASSERT_GT(server.accepted_connections(), 4u);
    run_burst(1);
    run_burst(burst);
    EXPECT_LE(server.accepted_connections(), static_cast<std::size_t>(burst))
        << "connections of the first burst were closed while one transfer ran";
    EXPECT_EQ(server.open_connections(), server.accepted_connections());

    // A size the user set is kept, through a burst larger than any before: the idle connections beyond it are
    // closed.
    m->set_max_cached_connections(2);
    run_burst(burst + 2);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (server.open_connections() > 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_EQ(server.open_connections(), 2u);
}

// Rules 4 and 5: the threaded resolver reports its wake-up descriptor (7.88: an AF_UNIX socketpair, 8.x: an
// eventfd), removes and closes it, and the connection's socket can take the same number within one
// socket_action; 300 times, each transfer on a new connection. The name goes through the resolver thread
// without leaving the machine (test::via_resolver).
TEST_F(multi_test, resolver_descriptor_and_fd_reuse_over_300_new_connections) {
    const test::via_resolver resolver(server);
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, resolver.url("/close/100"));
    resolver.apply(handle);
    handle.set(CURLOPT_DNS_CACHE_TIMEOUT, 0L);  // every transfer goes through the resolver thread
    handle.set(CURLOPT_TIMEOUT_MS, 5000L);      // a lost resolver event would otherwise hang
    const auto before = m->stats();
    for (int i = 0; i < 300; ++i) {
        body.clear();
        ASSERT_FALSE(perform(handle, 10s)) << "transfer " << i << ": " << handle.error_message();
        ASSERT_EQ(body, test::expected_body(100));
    }
    const auto after = m->stats();
    // Each transfer registers its connection's socket, and the resolver's descriptor unless the resolver
    // thread had already answered when curl first looked.
    const auto registered = after.registrations_created - before.registrations_created;
    EXPECT_GT(registered, 300u) << "the resolver's descriptor never reached the glue";
    std::printf("registrations for 300 transfers: %llu\n", static_cast<unsigned long long>(registered));
    EXPECT_EQ(server.accepted_connections(), 300u);
    EXPECT_EQ(after.curl_errors, 0u);
    EXPECT_EQ(after.live_registrations, 0u);
}

// Rule 2 (queued transfers are resumed through timer 0) with CURLMOPT_MAX_TOTAL_CONNECTIONS = 1.
TEST_F(multi_test, twenty_transfers_queued_behind_one_connection_all_complete) {
    m->set_max_total_connections(1);
    std::vector<easy> handles(20);
    std::vector<std::string> bodies(20);
    std::vector<completion> done(20);
    for (std::size_t i = 0; i < handles.size(); ++i) {
        handles[i].set(CURLOPT_URL, server.url("/bytes/2000"));
        handles[i].set(CURLOPT_TIMEOUT_MS, 10000L);
        handles[i].write_to(bodies[i]);
        m->async_perform(handles[i], done[i].handler());
    }
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& d : done)
            if (!d.done()) return false;
        return true;
    }));
    long connects = 0;
    for (std::size_t i = 0; i < handles.size(); ++i) {
        EXPECT_EQ(done[i].calls, 1);
        EXPECT_FALSE(done[i].ec) << handles[i].error_message();
        EXPECT_EQ(bodies[i], test::expected_body(2000));
        connects += handles[i].info<long>(CURLINFO_NUM_CONNECTS);
    }
    EXPECT_EQ(connects, 1);
    EXPECT_GT(m->stats().timeouts_fired, 0u);
}

class cancellation_test : public multi_test {
protected:
    // A transfer trickling 200 kB at 100 bytes every 2 ms, with its body counted.
    void start_trickle(easy& handle, test::body_counter& counter, boost::asio::cancellation_signal& signal,
                       completion& done) {
        handle.set(CURLOPT_URL, server.url("/trickle/200000?chunk=100&interval_ms=2"));
        handle.set(CURLOPT_WRITEFUNCTION, &test::body_counter::write);
        handle.set(CURLOPT_WRITEDATA, &counter);
        m->async_perform(handle, boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code ec) {
                             counter.completed = true;
                             done.handler()(ec);
                         }));
    }

    // The multi and the handle go on working after a cancellation.
    void expect_still_working(easy& handle) {
        std::string body;
        handle.write_to(body);
        handle.set(CURLOPT_URL, server.url("/bytes/5000"));
        ASSERT_FALSE(perform(handle)) << handle.error_message();
        EXPECT_EQ(body, test::expected_body(5000));
    }

    void expect_aborted_once(completion& done, test::body_counter& counter) {
        EXPECT_EQ(done.calls, 1);
        EXPECT_EQ(done.ec, boost::asio::error::operation_aborted);
        ioc.run_for(100ms);  // a write callback after completion would show up here
        EXPECT_EQ(counter.calls_after_completion, 0);
        EXPECT_EQ(done.calls, 1);
        EXPECT_LT(counter.bytes.load(), 200000u);
        EXPECT_EQ(m->in_flight(), 0u);
    }
};

TEST_F(cancellation_test, terminal_mid_body_from_the_io_thread) {
    easy handle;
    test::body_counter counter;
    boost::asio::cancellation_signal signal;
    completion done;
    start_trickle(handle, counter, signal, done);
    ASSERT_TRUE(test::run_until(ioc, [&] { return counter.bytes >= 1000; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, 5s));
    expect_aborted_once(done, counter);
    expect_still_working(handle);
}

TEST_F(cancellation_test, terminal_mid_body_from_a_foreign_thread) {
    easy handle;
    test::body_counter counter;
    boost::asio::cancellation_signal signal;
    completion done;
    start_trickle(handle, counter, signal, done);
    std::thread canceller([&] {
        while (counter.bytes < 1000)
            std::this_thread::sleep_for(1ms);
        signal.emit(boost::asio::cancellation_type::terminal);
    });
    const bool completed = test::run_until(
        ioc, [&] { return done.done(); }, 10s);
    canceller.join();
    ASSERT_TRUE(completed);
    expect_aborted_once(done, counter);
    expect_still_working(handle);
}

TEST_F(cancellation_test, partial_aborts_and_total_after_start_is_ignored) {
    easy first, second;
    test::body_counter first_counter, second_counter;
    boost::asio::cancellation_signal first_signal, second_signal;
    completion first_done, second_done;
    start_trickle(first, first_counter, first_signal, first_done);
    ASSERT_TRUE(test::run_until(ioc, [&] { return first_counter.bytes >= 500; }));
    first_signal.emit(boost::asio::cancellation_type::partial);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return first_done.done(); }, 5s));
    expect_aborted_once(first_done, first_counter);

    // Once the request may be on the wire, `total` (nothing happened yet) cannot be promised: ignored.
    second.set(CURLOPT_URL, server.url("/trickle/3000?chunk=1000&interval_ms=20"));
    second.set(CURLOPT_WRITEFUNCTION, &test::body_counter::write);
    second.set(CURLOPT_WRITEDATA, &second_counter);
    m->async_perform(second,
                     boost::asio::bind_cancellation_slot(second_signal.slot(), second_done.handler()));
    ASSERT_TRUE(test::run_until(ioc, [&] { return second_counter.bytes > 0; }));
    second_signal.emit(boost::asio::cancellation_type::total);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return second_done.done(); }, 5s));
    EXPECT_FALSE(second_done.ec);
    EXPECT_EQ(second_counter.bytes, 3000u);
}

TEST_F(cancellation_test, any_type_before_curl_saw_the_transfer_sends_no_request) {
    for (auto type : {boost::asio::cancellation_type::total, boost::asio::cancellation_type::terminal}) {
        easy handle;
        boost::asio::cancellation_signal signal;
        completion done;
        handle.set(CURLOPT_URL, server.url("/bytes/10"));
        const auto requests_before = server.requests_served();
        // From a thread outside the io_context: the start is queued, the cancellation arrives first.
        std::thread initiator([&] {
            m->async_perform(handle, boost::asio::bind_cancellation_slot(signal.slot(), done.handler()));
            signal.emit(type);
        });
        initiator.join();
        ASSERT_TRUE(test::run_until(
            ioc, [&] { return done.done(); }, 5s));
        EXPECT_EQ(done.ec, boost::asio::error::operation_aborted);
        EXPECT_EQ(done.calls, 1);
        EXPECT_EQ(server.requests_served(), requests_before);
    }
}

// Rule 10: the multi destroyed with transfers in flight and an idle cached connection.
TEST_F(multi_test, destroyed_with_ten_transfers_in_flight_and_an_idle_connection) {
    easy idle;
    idle.set(CURLOPT_URL, server.url("/bytes/10"));
    idle.discard_body();
    ASSERT_FALSE(perform(idle));
    std::vector<easy> handles(10);
    std::vector<test::body_counter> counters(10);
    std::vector<completion> done(10);
    for (std::size_t i = 0; i < handles.size(); ++i) {
        handles[i].set(CURLOPT_URL, server.url("/trickle/100000?chunk=10&interval_ms=5"));
        handles[i].set(CURLOPT_WRITEFUNCTION, &test::body_counter::write);
        handles[i].set(CURLOPT_WRITEDATA, &counters[i]);
        m->async_perform(handles[i], [&, i](error_code ec) {
            counters[i].completed = true;
            done[i].handler()(ec);
        });
    }
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& c : counters)
            if (c.bytes == 0) return false;
        return true;
    }));
    EXPECT_EQ(m->stats().live_registrations, 10u);
    m.reset();
    for (auto& d : done)
        EXPECT_FALSE(d.done()) << "completed inside the destructor";
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& d : done)
            if (!d.done()) return false;
        return true;
    }));
    ioc.run_for(50ms);
    for (std::size_t i = 0; i < done.size(); ++i) {
        EXPECT_EQ(done[i].calls, 1);
        EXPECT_EQ(done[i].ec, boost::asio::error::operation_aborted);
        EXPECT_EQ(counters[i].calls_after_completion, 0);
        EXPECT_FALSE(handles[i].busy());
    }
    // The handles outlive the multi and still work elsewhere.
    multi other(ioc);
    completion again;
    handles[0].discard_body();
    handles[0].set(CURLOPT_URL, server.url("/bytes/10"));
    other.async_perform(handles[0], again.handler());
    ASSERT_TRUE(test::run_until(ioc, [&] { return again.done(); }));
    EXPECT_FALSE(again.ec) << handles[0].error_message();
}

TEST_F(multi_test, io_context_destroyed_with_transfers_never_run_again) {
    auto context = std::make_unique<boost::asio::io_context>();
    std::optional<multi> local(std::in_place, *context);
    std::vector<easy> handles(5);
    completion done;
    for (auto& handle : handles) {
        handle.set(CURLOPT_URL, server.url("/trickle/100000?chunk=10&interval_ms=5"));
        handle.discard_body();
        local->async_perform(handle, done.handler());
    }
    context->run_for(200ms);
    local.reset();    // completions are queued...
    context.reset();  // ...and destroyed uninvoked, as Asio specifies; LeakSanitizer checks the rest
    EXPECT_EQ(done.calls, 0);
}

TEST(multi_lifetime, io_context_never_run) {
    test::warm_up_process();
    test::fd_baseline fds;
    completion done;
    {
        boost::asio::io_context context;
        multi local(context);
        easy handle;
        handle.set(CURLOPT_URL, "http://127.0.0.1:9/");
        local.async_perform(handle, done.handler());
        // handle, then the multi, then the context die here with the start still queued.
    }
    EXPECT_EQ(done.calls, 0);
    EXPECT_TRUE(fds.settled());
}

TEST_F(multi_test, cancel_aborts_everything_in_flight_and_the_multi_keeps_working) {
    std::vector<easy> handles(3);
    std::vector<completion> done(3);
    for (std::size_t i = 0; i < handles.size(); ++i) {
        handles[i].set(CURLOPT_URL, server.url("/stall"));
        m->async_perform(handles[i], done[i].handler());
    }
    ASSERT_TRUE(test::run_until(ioc, [&] { return m->in_flight() == 3 && server.open_connections() >= 3; }));
    m->cancel();
    ASSERT_TRUE(test::run_until(ioc, [&] { return done[0].done() && done[1].done() && done[2].done(); }));
    for (auto& d : done) {
        EXPECT_EQ(d.calls, 1);
        EXPECT_EQ(d.ec, boost::asio::error::operation_aborted);
    }
    handles[0].set(CURLOPT_URL, server.url("/bytes/10"));
    handles[0].discard_body();
    EXPECT_FALSE(perform(handles[0]));
}

TEST_F(multi_test, easy_destroyed_while_its_transfer_runs) {
    completion done;
    {
        easy handle;
        handle.set(CURLOPT_URL, server.url("/stall"));
        m->async_perform(handle, done.handler());
        ASSERT_TRUE(test::run_until(ioc, [&] { return server.open_connections() >= 1; }));
    }
    ASSERT_TRUE(test::run_until(ioc, [&] { return done.done(); }));
    EXPECT_EQ(done.ec, boost::asio::error::operation_aborted);
    EXPECT_EQ(m->in_flight(), 0u);
}

TEST_F(multi_test, errors_carry_curls_message) {
    easy handle;
    handle.set(CURLOPT_URL, "http://127.0.0.1:9/");  // discard port: nothing listens
    const error_code ec = perform(handle);
    EXPECT_EQ(ec, condition::connect_failed);
    EXPECT_FALSE(handle.error_message().empty());
    handle.set(CURLOPT_URL, "http://[");
    EXPECT_EQ(perform(handle), condition::bad_url);
    EXPECT_FALSE(handle.error_message().empty()) << "a malformed URL says why";
    handle.set(CURLOPT_URL, "gopher://127.0.0.1/");
    handle.set(CURLOPT_PROTOCOLS_STR, "http,https");
    EXPECT_EQ(perform(handle), condition::protocol_refused);
}

TEST_F(multi_test, multi_options_are_checked) {
    error_code ec;
    m->set_option(CURLMOPT_MAX_HOST_CONNECTIONS, 4L, ec);
    EXPECT_FALSE(ec);
    m->set_multiplexing(false);
    m->set_max_cached_connections(8);
    m->set_option(CURLMOPT_SOCKETFUNCTION, 0L, ec);
    EXPECT_EQ(ec, errc::invalid_argument);
    m->set_option(CURLMOPT_PUSHFUNCTION, 0L, ec);
    EXPECT_EQ(ec, errc::wrong_option_type);
    EXPECT_THROW(m->set_option(CURLMOPT_TIMERDATA, 0L), system_error);
}

// Rule 11 and TLS: verification is on; the test's CA is trusted, another CA is a clear TLS error.
TEST_F(multi_test, https_with_the_test_ca_and_with_a_wrong_ca) {
    test::test_server secure(test::test_server::options{.tls = true});
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, secure.url("/bytes/50000"));
    handle.set(CURLOPT_CAINFO, test::tls().ca_file);
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    EXPECT_EQ(body, test::expected_body(50000));

    easy wrong;
    wrong.set(CURLOPT_URL, secure.url("/bytes/10"));
    wrong.set(CURLOPT_CAINFO, test::tls().other_ca_file);
    const error_code ec = perform(wrong);
    EXPECT_EQ(ec, condition::tls_failed) << ec.message();
    EXPECT_NE(wrong.error_message().find("certificate"), std::string_view::npos) << wrong.error_message();

    easy system_store;  // no CA given: the system's store does not know the test CA
    system_store.set(CURLOPT_URL, secure.url("/bytes/10"));
    EXPECT_EQ(perform(system_store), condition::tls_failed);
    m.reset();
    EXPECT_TRUE(secure.wait_for_idle(5s));
}

#ifdef ASIOCURL_FETCH_ONE_EXAMPLE
TEST_F(multi_test, the_fetch_one_example_fetches_from_the_test_server) {
    const std::string command =
        std::string(ASIOCURL_FETCH_ONE_EXAMPLE) + " " + server.url("/redirect/2") + " > /dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0);
    const std::string failing = std::string(ASIOCURL_FETCH_ONE_EXAMPLE) + " http://127.0.0.1:9/ 2> /dev/null";
    EXPECT_NE(std::system(failing.c_str()), 0);
}
#endif

}  // namespace
}  // namespace asiocurl

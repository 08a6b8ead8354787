// http::stream: response bodies read at the reader's pace with bounded memory, request bodies written as they
// are produced, progress reports; against the Beast test server (and nginx for HTTP/2).
#include <asiocurl/http.hpp>

#include "multi_fixture.hpp"
#include "nginx_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace asiocurl {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

bhttp::request<bhttp::empty_body> get(std::string url) {
    return {bhttp::verb::get, url, 11};
}

// CPU time of the calling thread: the io thread runs the client side only (the server has its own thread).
std::chrono::microseconds thread_cpu_time() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::microseconds(ts.tv_nsec / 1000);
}

class stream_test : public test::multi_test {
protected:
    std::array<char, 16> scratch{};

    // Runs `body` as a coroutine on the io_context until it returns (bounded); rethrows what it threw.
    template <class Coroutine>
    void run_coroutine(Coroutine body, std::chrono::milliseconds bound = 120s) {
        bool finished = false;
        std::exception_ptr failure;
        asio::co_spawn(ioc, std::move(body), [&](std::exception_ptr e) {
            failure = e;
            finished = true;
        });
        ASSERT_TRUE(test::run_until(
            ioc, [&] { return finished; }, bound))
            << "coroutine did not finish";
        if (failure) std::rethrow_exception(failure);
    }

    // Reads everything to eof and checks it against the server's pattern, without keeping it.
    static awaitable<std::size_t> read_pattern(http::stream& s, std::size_t read_size, error_code& end) {
        std::vector<char> chunk(read_size);
        std::size_t offset = 0;
        for (;;) {
            auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), asio::as_tuple(use_awaitable));
            if (ec) {
                end = ec;
                co_return offset;
            }
            for (std::size_t i = 0; i < n; ++i, ++offset)
                if (chunk[i] != alphabet[offset % alphabet.size()]) {
                    ADD_FAILURE() << "byte " << offset << " differs";
                    end = errc::invalid_argument;
                    co_return offset;
                }
        }
    }
};

TEST_F(stream_test, reads_head_then_body_then_eof) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/bytes/1000000")));
        co_await s.async_read_header(use_awaitable);
        EXPECT_EQ(s.header().result(), bhttp::status::ok);
        EXPECT_EQ(s.header()[bhttp::field::content_length], "1000000");
        error_code end;
        EXPECT_EQ(co_await read_pattern(s, 4096, end), 1000000u);
        EXPECT_EQ(end, asio::error::eof);
        // After the end: eof again, and the transfer's info.
        auto [ec, n] = co_await s.async_read_some(asio::buffer(scratch), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec, asio::error::eof);
        EXPECT_EQ(n, 0u);
        EXPECT_EQ(s.header().info.bytes_received, 1000000u);
        EXPECT_EQ(s.header().info.http_version, 11u);
        EXPECT_LE(s.max_buffered(), s.buffer_size());
    });
}

// The options are the stream's only reference to its cookie jar: the jar must live as long as curl may use
// its share (it stores the cookie while the response arrives, after start() has returned).
TEST_F(stream_test, a_cookie_jar_given_only_in_the_options_lives_as_long_as_the_transfer) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/set-cookie?session=abc123")),
                {.cookies = std::make_shared<http::cookie_jar>()});
        co_await s.async_read_header(use_awaitable);
        EXPECT_EQ(s.header().result(), bhttp::status::ok);
        EXPECT_EQ(s.header().count(bhttp::field::set_cookie), 1u);
        for (;;) {
            auto [ec, n] = co_await s.async_read_some(asio::buffer(scratch), asio::as_tuple(use_awaitable));
            if (ec) {
                EXPECT_EQ(ec, asio::error::eof) << ec.message();
                break;
            }
        }
    });
}

TEST_F(stream_test, async_read_and_a_head_without_body) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/chunked/100000?chunk=777")));
        std::string body(100000, '\0');
        // asio::async_read with an exact size: the stream is an AsyncReadStream.
        co_await asio::async_read(s, asio::buffer(body), use_awaitable);
        EXPECT_EQ(body, test::expected_body(100000));
        auto [ec, n] = co_await asio::async_read(s, asio::buffer(body), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec, asio::error::eof);
        EXPECT_EQ(n, 0u);

        http::stream empty(*m);
        empty.start(get(server.url("/status/204")));
        co_await empty.async_read_header(use_awaitable);
        EXPECT_EQ(empty.header().result(), bhttp::status::no_content);
        auto [ec2, n2] = co_await empty.async_read_some(asio::buffer(body), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec2, asio::error::eof);
    });
}

// The bound: 256 MiB read 16 KiB at a time by a reader that keeps stopping; the stream never holds
// more than its buffer, whatever the body size, and backpressure (pauses) is what keeps it there.
TEST_F(stream_test, quarter_gigabyte_to_a_sleeping_reader_stays_in_bound) {
    constexpr std::size_t total = 256u << 20;
    run_coroutine(
        [&]() -> awaitable<void> {
            http::stream s(*m);
            s.start(get(server.url("/bytes/" + std::to_string(total))));
            co_await s.async_read_header(use_awaitable);
            std::vector<char> chunk(16 * 1024);
            asio::steady_timer nap(ioc);
            std::size_t offset = 0, reads = 0, most = 0;
            for (;;) {
                auto [ec, n] = co_await s.async_read_some(asio::buffer(chunk), asio::as_tuple(use_awaitable));
                if (ec) {
                    EXPECT_EQ(ec, asio::error::eof) << ec.message();
                    break;
                }
                for (std::size_t i = 0; i < n; ++i, ++offset)
                    if (chunk[i] != alphabet[offset % alphabet.size()]) {
                        ADD_FAILURE() << "byte " << offset << " differs";
                        co_return;
                    }
                most = std::max(most, s.buffered());
                if (++reads % 256 == 0) {  // the reader sleeps; curl must stop, not buffer
                    nap.expires_after(2ms);
                    co_await nap.async_wait(use_awaitable);
                }
            }
            EXPECT_EQ(offset, total);
            EXPECT_LE(most, s.buffer_size());
            EXPECT_LE(s.max_buffered(), s.buffer_size()) << "the stream held more than its documented bound";
            EXPECT_EQ(s.buffer_size(), http::default_stream_buffer_size);
            EXPECT_GT(s.pauses(), 0u) << "backpressure never engaged";
        },
        300s);
}

TEST_F(stream_test, endless_ndjson_by_lines_cancelled_after_a_thousand_records) {
    asio::cancellation_signal stop;
    bool finished = false;
    asio::steady_timer emitter(ioc);
    // Cancellation reaches a read that waits; one that completes from buffered records is already done. So
    // once 1000 records are in, the signal is emitted every millisecond until a waiting read gets it.
    std::function<void()> tick = [&] {
        if (finished) return;
        stop.emit(asio::cancellation_type::terminal);
        emitter.expires_after(1ms);
        emitter.async_wait([&](error_code) { tick(); });
    };
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/ndjson?per_chunk=7&interval_ms=2")));
        co_await s.async_read_header(use_awaitable);
        EXPECT_EQ(s.header()[bhttp::field::content_type], "application/x-ndjson");
        std::string pending;
        std::size_t records = 0;
        error_code end;
        for (;;) {
            auto [ec, n] = co_await asio::async_read_until(
                s, asio::dynamic_buffer(pending), '\n',
                asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(use_awaitable)));
            if (ec) {
                end = ec;
                break;
            }
            const std::string expected = "{\"n\":" + std::to_string(records) + "}\n";
            EXPECT_EQ(pending.substr(0, n), expected);
            pending.erase(0, n);
            if (++records == 1000) tick();
        }
        EXPECT_EQ(end, asio::error::operation_aborted);
        EXPECT_GE(records, 1000u);
        EXPECT_LT(records, 1100u) << "the cancellation took long to land";
        // The signal reached either a waiting read of the stream, which aborts the transfer, or only
        // async_read_until between two of its reads: Asio's composed operations check their own cancellation
        // state after each step (boost/asio/impl/read_until.hpp), so when the stream's read had already
        // completed with data, async_read_until ends with operation_aborted and the transfer goes on. Read on
        // with the signal still bound until a read of the stream itself is cancelled.
        int data_reads = 0;
        for (;;) {
            auto [ec, n] = co_await s.async_read_some(
                asio::buffer(scratch),
                asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(use_awaitable)));
            if (ec) {
                EXPECT_EQ(ec, asio::error::operation_aborted);
                break;
            }
            EXPECT_GT(n, 0u);
            if (++data_reads == 10000) {
                ADD_FAILURE() << "no read of the stream was cancelled";
                break;
            }
        }
        finished = true;
        // Terminal cancellation of the stream's read aborted the transfer too.
        auto [ec, n] = co_await s.async_read_some(asio::buffer(scratch), asio::as_tuple(use_awaitable));
        (void)n;
        EXPECT_EQ(ec, asio::error::operation_aborted);
    });
    ioc.run_for(50ms);
    EXPECT_EQ(m->in_flight(), 0u);
}

TEST_F(stream_test, pause_unpause_torture_keeps_bytes_exact_and_idle_cpu_low) {
    constexpr std::size_t total = 20u << 20;
    std::chrono::microseconds cpu{}, wall{};
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/bytes/" + std::to_string(total))));
        co_await s.async_read_header(use_awaitable);
        std::vector<char> chunk(256 * 1024);
        asio::steady_timer nap(ioc);
        std::size_t offset = 0;
        std::chrono::microseconds paused_cpu{};
        const auto start = std::chrono::steady_clock::now();
        for (;;) {
            auto [ec, n] = co_await asio::async_read(s, asio::buffer(chunk), asio::as_tuple(use_awaitable));
            for (std::size_t i = 0; i < n; ++i, ++offset)
                if (chunk[i] != alphabet[offset % alphabet.size()]) {
                    ADD_FAILURE() << "byte " << offset << " differs";
                    co_return;
                }
            if (ec) {
                EXPECT_EQ(ec, asio::error::eof);
                break;
            }
            // The reader stops for 20 ms after each chunk; meanwhile the client must do nothing.
            const auto before = thread_cpu_time();
            nap.expires_after(20ms);
            co_await nap.async_wait(use_awaitable);
            paused_cpu += thread_cpu_time() - before;
        }
        wall =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
        cpu = paused_cpu;
        EXPECT_EQ(offset, total);
        EXPECT_GT(s.pauses(), 10u);
    });
    // 80 pauses of 20 ms: 1.6 s asleep. A busy loop on a paused transfer would burn about all of it.
    EXPECT_LT(cpu, 160ms) << "client CPU while the reader slept: " << cpu.count() << " us over "
                          << wall.count() << " us";
}

TEST_F(stream_test, faults_mid_body_arrive_after_the_bytes_before_them) {
    struct fault {
        std::string path;
        http::options opts;
        condition expected;
    };
    http::options quick;
    quick.timeout = 1500ms;
    const std::vector<fault> faults = {
        {"/reset/200000?sent=100000", {}, condition::receive_failed},
        {"/truncate/200000?sent=100000", {}, condition::partial_body},
        {"/stall-body/200000?sent=100000", quick, condition::timed_out},
    };
    for (const auto& f : faults) {
        SCOPED_TRACE(f.path);
        run_coroutine([&]() -> awaitable<void> {
            http::stream s(*m);
            s.start(get(server.url(f.path)), f.opts);
            co_await s.async_read_header(use_awaitable);
            error_code end;
            const std::size_t got = co_await read_pattern(s, 8192, end);
            EXPECT_EQ(got, 100000u) << "the bytes before the fault are delivered first";
            EXPECT_EQ(end, f.expected) << end.message();
            EXPECT_FALSE(s.header().info.error_message.empty());
            // The error stays: every later read gets it.
            auto [ec, n] = co_await s.async_read_some(asio::buffer(scratch), asio::as_tuple(use_awaitable));
            EXPECT_EQ(ec, end);
        });
    }
    // The multi goes on: a clean stream after the faults.
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        s.start(get(server.url("/bytes/50000")));
        error_code end;
        EXPECT_EQ(co_await read_pattern(s, 8192, end), 50000u);
        EXPECT_EQ(end, asio::error::eof);
    });
}

TEST_F(stream_test, destroyed_mid_body_aborts_and_completes_its_read_once) {
    test::completion read;
    std::array<char, 4096> buffer{};
    {
        http::stream s(*m);
        s.start(get(server.url("/endless")));
        std::size_t total = 0;
        bool reading = true;
        // Read some, then leave one read pending and destroy the stream.
        std::function<void()> next = [&] {
            s.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
                total += n;
                if (ec || total > 200000) {
                    reading = false;
                    return;
                }
                next();
            });
        };
        next();
        ASSERT_TRUE(test::run_until(ioc, [&] { return !reading; }));
        s.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t) { read.handler()(ec); });
        ioc.poll();
    }
    ASSERT_TRUE(test::run_until(ioc, [&] { return read.done() && m->in_flight() == 0; }));
    ioc.run_for(20ms);
    EXPECT_EQ(read.calls.load(), 1);
    // It may have been satisfied by bytes already buffered; if it waited, destruction aborted it.
    if (read.ec) {
        EXPECT_EQ(read.ec, asio::error::operation_aborted);
    }
}

TEST_F(stream_test, multi_destroyed_while_a_stream_waits) {
    http::stream s(*m);
    s.start(get(server.url("/stall")));
    test::completion head;
    s.async_read_header(head.handler());
    ioc.run_for(100ms);
    EXPECT_FALSE(head.done());
    m.reset();
    ASSERT_TRUE(test::run_until(ioc, [&] { return head.done(); }));
    EXPECT_EQ(head.ec, asio::error::operation_aborted);
    test::completion later;
    s.async_read_some(asio::buffer(scratch), [&](error_code ec, std::size_t) { later.handler()(ec); });
    ASSERT_TRUE(test::run_until(ioc, [&] { return later.done(); }));
    EXPECT_EQ(later.ec, asio::error::operation_aborted);
}

TEST_F(stream_test, read_cancellation_total_keeps_the_exchange_terminal_ends_it) {
    // 100 bytes every 50 ms: a read with nothing buffered waits long enough for a cancellation to land first.
    http::stream s(*m);
    s.start(get(server.url("/trickle/3000?chunk=100&interval_ms=50")));
    std::array<char, 64> buffer{};
    asio::cancellation_signal signal;
    std::size_t got = 0;
    error_code ec;
    bool done = false;
    auto read = [&](bool cancellable) {
        done = false;
        auto handler = [&](error_code e, std::size_t n) { got += n, ec = e, done = true; };
        if (cancellable)
            s.async_read_some(asio::buffer(buffer), asio::bind_cancellation_slot(signal.slot(), handler));
        else
            s.async_read_some(asio::buffer(buffer), handler);
        return test::run_until(ioc, [&] { return done; });
    };
    auto drain_buffered = [&] {
        while (s.buffered() > 0)
            if (!read(false) || ec) return false;
        return true;
    };
    ASSERT_TRUE(read(false));
    ASSERT_FALSE(ec);
    ASSERT_TRUE(drain_buffered());
    // `total` on a waiting read: that read ends, nothing else does.
    done = false;
    s.async_read_some(asio::buffer(buffer),
                      asio::bind_cancellation_slot(signal.slot(), [&](error_code e, std::size_t n) {
                          got += n, ec = e, done = true;
                      }));
    signal.emit(asio::cancellation_type::total);
    ASSERT_TRUE(test::run_until(ioc, [&] { return done; }));
    EXPECT_EQ(ec, asio::error::operation_aborted);
    const std::size_t before = got;
    ASSERT_TRUE(read(false));
    EXPECT_FALSE(ec) << "the exchange did not go on after a total cancellation: " << ec.message();
    EXPECT_GT(got, before);
    // `terminal` on a waiting read: the transfer ends with it.
    ASSERT_TRUE(drain_buffered());
    done = false;
    s.async_read_some(asio::buffer(buffer),
                      asio::bind_cancellation_slot(signal.slot(), [&](error_code e, std::size_t n) {
                          got += n, ec = e, done = true;
                      }));
    signal.emit(asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return done; }));
    EXPECT_EQ(ec, asio::error::operation_aborted);
    ASSERT_TRUE(read(false));
    EXPECT_EQ(ec, asio::error::operation_aborted) << "reads after a terminal cancellation";
    EXPECT_LT(got, 3000u);
    ASSERT_TRUE(test::run_until(ioc, [&] { return m->in_flight() == 0; }));
}

// A read the network completes (inside curl's callbacks, during a reactor turn) runs at the end of that turn
// when its handler is on the multi's own executor, as a transfer's completion does; a handler on another
// executor is posted there. Both run once, on their executor, never inline.
TEST_F(stream_test, a_read_the_network_completes_runs_at_the_end_of_its_turn_on_the_multis_executor) {
    http::stream s(*m);
    // The head and 1000 bytes, then 1000 more every 200 ms.
    s.start(get(server.url("/trickle/3000?chunk=1000&interval_ms=200")));
    const auto before = m->stats().completions_at_turn_end;
    int calls = 0;
    std::uint64_t collected_at_header = 0;
    s.async_read_header([&](error_code ec) {
        EXPECT_FALSE(ec);
        ++calls;
        collected_at_header = m->stats().completions_at_turn_end - before;
    });
    EXPECT_EQ(calls, 0) << "ran inside the initiating call";
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls == 1; }));
    EXPECT_EQ(collected_at_header, 1u) << "the head's completion was posted, not run at the end of its turn";

    // The first 1000 bytes; then a read that waits for the next ones, on a strand: posted there, not
    // collected.
    std::array<char, 4000> buffer{};
    std::size_t got = 0;
    while (got < 1000) {
        bool read = false;
        s.async_read_some(asio::buffer(buffer), [&](error_code ec, std::size_t n) {
            EXPECT_FALSE(ec) << ec.message();
            got += n;
            read = true;
        });
        ASSERT_TRUE(test::run_until(ioc, [&] { return read; }));
    }
    auto strand = asio::make_strand(ioc);
    const auto before_strand = m->stats().completions_at_turn_end;
    std::uint64_t collected_for_strand = 0;
    bool on_strand = false, done = false;
    s.async_read_some(asio::buffer(buffer), asio::bind_executor(strand, [&](error_code ec, std::size_t n) {
                          EXPECT_FALSE(ec) << ec.message();
                          EXPECT_GT(n, 0u);
                          on_strand = strand.running_in_this_thread();
                          collected_for_strand = m->stats().completions_at_turn_end - before_strand;
                          done = true;
                      }));
    EXPECT_FALSE(done);
    ASSERT_TRUE(test::run_until(ioc, [&] { return done; }));
    EXPECT_TRUE(on_strand);
    EXPECT_EQ(collected_for_strand, 0u);
    s.cancel();
}

// Reads that complete at once (the bytes are buffered, then the end of file), started from a completion the
// multi runs at the end of a turn, join that turn's list (docs/design-notes.md, "Rule 8, changed"): they run
// after the handler that started them returned, before what it posted, without a round of the scheduler.
TEST_F(stream_test, reads_that_complete_at_once_from_a_turns_completion_join_that_turn) {
    http::stream s(*m);
    s.start(get(server.url("/bytes/1000")));
    bool head = false;
    s.async_read_header([&](error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        head = true;
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return head && s.buffered() == 1000 && m->in_flight() == 0; }));

    // A transfer's completion runs at the end of its turn; from there, two reads that complete at once.
    easy other;
    other.set(CURLOPT_URL, server.url("/bytes/1"));
    std::string ignored;
    other.write_to(ignored);
    std::array<char, 4000> buffer{};
    std::vector<std::string> order;
    bool initiating = false, ran_inline = false;
    std::size_t got = 0;
    error_code end;
    std::uint64_t before = 0;
    m->async_perform(other, [&](error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        order.push_back("transfer");
        before = m->stats().completions_at_turn_end;
        asio::post(ioc, [&] { order.push_back("posted"); });
        initiating = true;
        s.async_read_some(asio::buffer(buffer), [&](error_code read_ec, std::size_t n) {
            ran_inline |= initiating;
            EXPECT_FALSE(read_ec) << read_ec.message();
            got = n;
            order.push_back("bytes");
            initiating = true;
            s.async_read_some(asio::buffer(buffer), [&](error_code eof_ec, std::size_t eof_n) {
                ran_inline |= initiating;
                EXPECT_EQ(eof_n, 0u);
                end = eof_ec;
                order.push_back("eof");
            });
            initiating = false;
        });
        initiating = false;
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return order.size() == 4; }));
    EXPECT_FALSE(ran_inline) << "a read completed inside its initiating call";
    EXPECT_EQ(got, 1000u);
    EXPECT_EQ(end, asio::error::eof);
    EXPECT_EQ(order, (std::vector<std::string>{"transfer", "bytes", "eof", "posted"}))
        << "the reads were posted, not run at the end of the turn";
    EXPECT_EQ(m->stats().completions_at_turn_end - before, 2u);
}

// A stream destroyed from a completion the multi runs at the end of a turn: its waiting read completes once,
// with operation_aborted, after that handler returned (never inside the destructor) and before what the
// handler posted (it joins the turn, as a read that completes at once does).
TEST_F(stream_test, destroyed_from_a_turns_completion_completes_its_waiting_read_once_after_it) {
    std::optional<http::stream> s(std::in_place, *m);
    s->start(get(server.url("/stall")));
    std::vector<std::string> order;
    bool destroying = false, ran_inside = false;
    int head_calls = 0;
    error_code head_ec;
    s->async_read_header([&](error_code ec) {
        ran_inside |= destroying;
        ++head_calls;
        head_ec = ec;
        order.push_back("aborted");
    });
    easy other;
    other.set(CURLOPT_URL, server.url("/bytes/1"));
    std::string ignored;
    other.write_to(ignored);
    m->async_perform(other, [&](error_code ec) {
        EXPECT_FALSE(ec) << ec.message();
        order.push_back("transfer");
        asio::post(ioc, [&] { order.push_back("posted"); });
        destroying = true;
        s.reset();
        destroying = false;
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return order.size() == 3 && m->in_flight() == 0; }));
    ioc.run_for(20ms);
    EXPECT_EQ(head_calls, 1);
    EXPECT_EQ(head_ec, asio::error::operation_aborted);
    EXPECT_FALSE(ran_inside) << "the read completed inside the stream's destructor";
    EXPECT_EQ(order, (std::vector<std::string>{"transfer", "aborted", "posted"}));
}

TEST_F(stream_test, handlers_run_once_on_their_executor_with_every_token) {
    auto strand = asio::make_strand(ioc);
    http::stream s(*m);
    s.start(get(server.url("/bytes/100000")));
    bool inline_call = true, on_strand = false;
    int calls = 0;
    s.async_read_header(asio::bind_executor(strand, [&](error_code ec) {
        EXPECT_FALSE(ec);
        on_strand = strand.running_in_this_thread();
        ++calls;
    }));
    inline_call = calls != 0;
    EXPECT_FALSE(inline_call);
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls == 1; }));
    EXPECT_TRUE(on_strand);

    // deferred: launched later.
    std::array<char, 1000> buffer{};
    auto op = s.async_read_some(asio::buffer(buffer), asio::deferred);
    ioc.poll();
    std::size_t from_deferred = 0;
    std::move(op)([&](error_code ec, std::size_t n) {
        EXPECT_FALSE(ec);
        from_deferred = n;
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return from_deferred > 0; }));

    // use_future, completed by the io thread running below.
    auto future = s.async_read_some(asio::buffer(buffer), asio::use_future);
    ASSERT_TRUE(test::run_until(ioc, [&] { return future.wait_for(0s) == std::future_status::ready; }));
    EXPECT_GT(future.get(), 0u);

    // Bad use: a second read while one waits, writes on a download stream; errors, posted, never inline.
    http::stream idle(*m);
    idle.start(get(server.url("/stall")));
    error_code first_ec, second_ec, write_ec;
    int completions = 0;
    idle.async_read_some(asio::buffer(buffer),
                         [&](error_code ec, std::size_t) { first_ec = ec, ++completions; });
    idle.async_read_some(asio::buffer(buffer),
                         [&](error_code ec, std::size_t) { second_ec = ec, ++completions; });
    idle.async_write_some(asio::buffer(buffer),
                          [&](error_code ec, std::size_t) { write_ec = ec, ++completions; });
    EXPECT_EQ(completions, 0);
    ASSERT_TRUE(test::run_until(ioc, [&] { return completions == 2; }));
    EXPECT_EQ(second_ec, asio::error::in_progress);
    EXPECT_EQ(write_ec, asio::error::operation_not_supported);
    idle.cancel();
    ASSERT_TRUE(test::run_until(ioc, [&] { return completions == 3; }));
    EXPECT_EQ(first_ec, asio::error::operation_aborted);
    // Starting twice and bad headers are refused before anything is sent.
    error_code start_ec;
    idle.start(get(server.url("/bytes/1")), {}, start_ec);
    EXPECT_EQ(start_ec, errc::easy_in_use);
    http::stream bad(*m);
    auto injected = get(server.url("/bytes/1"));
    injected.set("X-Evil", "a\r\nInjected: yes");
    bad.start(injected, {}, start_ec);
    EXPECT_EQ(start_ec, errc::header_injection);
    // A moved-from stream answers with errors, never a crash.
    http::stream moved_to(std::move(bad));
    moved_to.cancel();
    bad.start(get(server.url("/bytes/1")), {}, start_ec);
    EXPECT_EQ(start_ec, errc::empty_handle);
    EXPECT_EQ(bad.buffered(), 0u);
    EXPECT_TRUE(bad.header().info.effective_url.empty());
    error_code moved_ec;
    bool moved_done = false;
    bad.async_read_some(asio::buffer(buffer),
                        [&](error_code ec, std::size_t) { moved_ec = ec, moved_done = true; });
    EXPECT_FALSE(moved_done);
    ASSERT_TRUE(test::run_until(ioc, [&] { return moved_done; }));
    EXPECT_EQ(moved_ec, errc::empty_handle);
    s.cancel();
    ASSERT_TRUE(test::run_until(ioc, [&] { return m->in_flight() == 0; }));
}

// ---- uploads
// -------------------------------------------------------------------------------------------------

class upload_test : public stream_test {
protected:
    // Writes `body` in random pieces with random short delays, then ends it; returns the server's answer.
    awaitable<std::string> upload(http::stream& s, const std::string& body, std::mt19937& random) {
        std::uniform_int_distribution<std::size_t> piece(1, 256 * 1024);
        std::uniform_int_distribution<int> delay(0, 9);
        asio::steady_timer nap(ioc);
        std::size_t offset = 0;
        while (offset < body.size()) {
            const std::size_t n = std::min(piece(random), body.size() - offset);
            offset += co_await asio::async_write(s, asio::buffer(body.data() + offset, n), use_awaitable);
            if (delay(random) == 0) {  // one piece in ten waits a little: curl's read callback pauses
                nap.expires_after(1ms);
                co_await nap.async_wait(use_awaitable);
            }
        }
        co_await s.async_finish_upload(use_awaitable);
        co_await s.async_read_header(use_awaitable);
        std::string answer;
        auto [ec, n] =
            co_await asio::async_read(s, asio::dynamic_buffer(answer), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec, asio::error::eof);
        co_return answer;
    }
};

TEST_F(upload_test, hundred_megabytes_in_random_pieces_with_and_without_length) {
    std::mt19937 random(20261126);
    std::string body(100u << 20, '\0');
    for (auto& c : body)
        c = static_cast<char>(random());
    const std::string expected = test::digest(body);
    for (bool known_length : {true, false}) {
        SCOPED_TRACE(known_length ? "Content-Length" : "chunked");
        run_coroutine(
            [&]() -> awaitable<void> {
                http::stream s(*m);
                bhttp::request<bhttp::empty_body> req{bhttp::verb::post, server.url("/digest"), 11};
                req.set(bhttp::field::content_type, "application/octet-stream");
                s.start_upload(req, known_length ? std::optional<std::uint64_t>(body.size()) : std::nullopt);
                const std::string answer = co_await upload(s, body, random);
                EXPECT_EQ(answer, expected);
                EXPECT_EQ(s.header().result(), bhttp::status::ok);
                if (known_length)
                    EXPECT_EQ(s.header().info.bytes_sent, body.size());
                else  // curl counts the chunk framing too
                    EXPECT_GE(s.header().info.bytes_sent, body.size());
            },
            300s);
    }
}

TEST_F(upload_test, a_server_failing_mid_upload_ends_the_writes_with_an_error) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        bhttp::request<bhttp::empty_body> req{bhttp::verb::put, server.url("/reset-upload?after=1000000"),
                                              11};
        s.start_upload(req, std::nullopt);
        std::string piece(64 * 1024, 'x');
        error_code failed;
        std::size_t written = 0;
        for (int i = 0; i < 1000 && !failed; ++i) {  // 64 MB at most; the server gives up after 1 MB
            auto [ec, n] = co_await asio::async_write(s, asio::buffer(piece), asio::as_tuple(use_awaitable));
            written += n;
            failed = ec;
        }
        EXPECT_TRUE(failed) << "every write succeeded";
        EXPECT_LT(written, 64u << 20);
        EXPECT_NE(failed, asio::error::operation_aborted);
        // The response side reports the same failure.
        auto [ec, n] = co_await s.async_read_some(asio::buffer(piece), asio::as_tuple(use_awaitable));
        EXPECT_TRUE(ec);
        EXPECT_NE(ec, asio::error::eof);
    });
}

TEST_F(upload_test, declared_length_is_enforced) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        bhttp::request<bhttp::empty_body> req{bhttp::verb::post, server.url("/digest"), 11};
        s.start_upload(req, 10);
        auto [ec1, n1] =
            co_await s.async_write_some(asio::buffer("0123456789abcdef", 16), asio::as_tuple(use_awaitable));
        EXPECT_FALSE(ec1);
        EXPECT_EQ(n1, 10u) << "a write is cut at the declared length";
        auto [ec2, n2] = co_await s.async_write_some(asio::buffer("x", 1), asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec2, errc::upload_size_mismatch);
        co_await s.async_finish_upload(use_awaitable);
        co_await s.async_read_header(use_awaitable);
        std::string answer;
        co_await asio::async_read(s, asio::dynamic_buffer(answer), asio::as_tuple(use_awaitable));
        EXPECT_EQ(answer, test::digest("0123456789"));

        http::stream shorter(*m);
        shorter.start_upload(req, 10);
        co_await asio::async_write(shorter, asio::buffer("01234", 5), use_awaitable);
        auto [ec3] = co_await shorter.async_finish_upload(asio::as_tuple(use_awaitable));
        EXPECT_EQ(ec3, errc::upload_size_mismatch);
        shorter.cancel();
    });
}

TEST_F(upload_test, a_whole_body_given_with_the_request) {
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, server.url("/digest"), 11, "hello, stream"};
        s.start(std::move(req));
        std::string answer;
        co_await asio::async_read(s, asio::dynamic_buffer(answer), asio::as_tuple(use_awaitable));
        EXPECT_EQ(answer, test::digest("hello, stream"));
    });
}

// ---- progress
// ------------------------------------------------------------------------------------------------

TEST_F(stream_test, fetch_progress_is_rate_limited_monotonic_and_ends_with_done) {
    auto strand = asio::make_strand(ioc);
    std::vector<http::progress> reports;
    bool wrong_executor = false;
    http::options opts;
    opts.progress_interval = 100ms;
    opts.on_progress = [&](const http::progress& p) {
        wrong_executor |= !strand.running_in_this_thread();
        reports.push_back(p);
    };
    std::optional<error_code> result;
    std::size_t reports_at_completion = 0;
    const auto start = std::chrono::steady_clock::now();
    // 60 kB trickled over about 1.2 s.
    http::async_fetch(*m, get(server.url("/trickle/60000?chunk=1000&interval_ms=20")), opts,
                      asio::bind_executor(strand, [&](error_code ec, http::response<> res) {
                          result = ec;
                          reports_at_completion = reports.size();
                          EXPECT_EQ(res.body().size(), 60000u);
                      }));
    ASSERT_TRUE(test::run_until(ioc, [&] { return result.has_value(); }));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(*result);
    EXPECT_FALSE(wrong_executor);
    ASSERT_GE(reports.size(), 3u);
    EXPECT_EQ(reports_at_completion, reports.size()) << "the last report comes before the completion";
    EXPECT_LE(reports.size(), static_cast<std::size_t>(elapsed / 100ms) + 2)
        << "more reports than the rate allows";
    for (std::size_t i = 1; i < reports.size(); ++i)
        EXPECT_GE(reports[i].downloaded, reports[i - 1].downloaded);
    EXPECT_TRUE(reports.back().done);
    EXPECT_EQ(reports.back().downloaded, 60000u);
    EXPECT_EQ(reports.back().download_total, 60000u);
    EXPECT_EQ(std::count_if(reports.begin(), reports.end(), [](auto& p) { return p.done; }), 1);
}

TEST_F(stream_test, progress_awaited_in_a_coroutine_while_a_stream_uploads) {
    http::progress_watcher watcher(ioc.get_executor());
    std::vector<http::progress> seen;
    bool watcher_done = false;
    asio::co_spawn(
        ioc,
        [&]() -> awaitable<void> {
            for (;;) {
                auto [ec, p] = co_await watcher.async_next(asio::as_tuple(use_awaitable));
                if (ec) {
                    EXPECT_EQ(ec, asio::error::eof);
                    break;
                }
                seen.push_back(p);
            }
            watcher_done = true;
        },
        asio::detached);
    run_coroutine([&]() -> awaitable<void> {
        http::stream s(*m);
        http::options opts;
        opts.on_progress = watcher.callback();
        opts.progress_interval = 20ms;
        bhttp::request<bhttp::empty_body> req{bhttp::verb::post, server.url("/digest"), 11};
        s.start_upload(req, 4u << 20, opts);
        std::string piece(64 * 1024, 'p');
        asio::steady_timer nap(ioc);
        for (int i = 0; i < 64; ++i) {
            co_await asio::async_write(s, asio::buffer(piece), use_awaitable);
            nap.expires_after(2ms);
            co_await nap.async_wait(use_awaitable);
        }
        co_await s.async_finish_upload(use_awaitable);
        std::string answer;
        co_await asio::async_read(s, asio::dynamic_buffer(answer), asio::as_tuple(use_awaitable));
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return watcher_done; }));
    ASSERT_GE(seen.size(), 2u);
    EXPECT_TRUE(seen.back().done);
    EXPECT_EQ(seen.back().uploaded, 4u << 20);
    EXPECT_EQ(seen.back().upload_total, 4u << 20);
    for (std::size_t i = 1; i < seen.size(); ++i)
        EXPECT_GE(seen[i].uploaded, seen[i - 1].uploaded);
}

// ---- HTTP/2
// --------------------------------------------------------------------------------------------------

TEST_F(stream_test, http2_a_stalled_reader_does_not_hold_back_its_sibling) {
    if (!test::nginx_server::installed()) {
        if (std::getenv("CI")) FAIL() << "nginx is not installed (scripts/test.sh installs it)";
        GTEST_SKIP() << "nginx is not installed";
    }
    test::nginx_server nginx;
    http::options opts;
    opts.version = http::http_version::http2_tls;
    opts.tls.ca_file = test::tls().ca_file;
    run_coroutine([&]() -> awaitable<void> {
        http::stream stalled(*m, 16 * 1024), reader(*m, 16 * 1024);
        stalled.start(get(nginx.https_url("/1m.bin")), opts);
        co_await stalled.async_read_header(use_awaitable);
        reader.start(get(nginx.https_url("/1m.bin")), opts);
        co_await reader.async_read_header(use_awaitable);
        // The stalled stream is never read: its buffer fills and curl pauses it.
        std::vector<char> chunk(16 * 1024);
        std::size_t offset = 0;
        for (;;) {
            auto [ec, n] =
                co_await reader.async_read_some(asio::buffer(chunk), asio::as_tuple(use_awaitable));
            if (ec) {
                EXPECT_EQ(ec, asio::error::eof) << ec.message();
                break;
            }
            for (std::size_t i = 0; i < n; ++i, ++offset)
                if (chunk[i] != alphabet[offset % alphabet.size()]) {
                    ADD_FAILURE() << "byte " << offset;
                    co_return;
                }
        }
        EXPECT_EQ(offset, 1u << 20);
        EXPECT_EQ(reader.header().info.http_version, 20u);
        EXPECT_TRUE(reader.header().info.connection_reused) << "the second stream opened its own connection";
        EXPECT_LE(stalled.max_buffered(), stalled.buffer_size());
        EXPECT_GT(stalled.pauses(), 0u);
        // The stalled one still reads to the end when its reader comes back.
        error_code end;
        EXPECT_EQ(co_await read_pattern(stalled, 16 * 1024, end), 1u << 20);
        EXPECT_EQ(end, asio::error::eof);
    });
}

}  // namespace
}  // namespace asiocurl

namespace asiocurl {
namespace {

#if defined(ASIOCURL_DOWNLOAD_EXAMPLE) && defined(ASIOCURL_FEED_LINES_EXAMPLE)
std::string run_command(const std::string& command, int& status) {
    std::string out;
    if (std::FILE* pipe = ::popen(command.c_str(), "r")) {
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
            out.append(buffer, n);
        status = ::pclose(pipe);
    }
    return out;
}

TEST_F(stream_test, the_download_example_writes_the_file_and_draws_progress_lines) {
    test::detail::temp_dir dir("asiocurl-download-");
    const std::string file = dir.path() + "/out.bin";
    int status = -1;
    // stderr (the progress) goes to the pipe: not a terminal, so plain lines.
    const std::string output =
        run_command(std::string(ASIOCURL_DOWNLOAD_EXAMPLE) + " '" +
                        server.url("/trickle/3000000?chunk=100000&interval_ms=40") + "' " + file + " 2>&1",
                    status);
    EXPECT_EQ(status, 0) << output;
    EXPECT_NE(output.find("download: "), std::string::npos) << output;
    EXPECT_NE(output.find("(done)"), std::string::npos) << output;
    EXPECT_EQ(output.find('\r'), std::string::npos) << "a terminal bar drawn into a pipe";
    std::ifstream in(file, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(content == test::expected_body(3000000)) << "downloaded " << content.size() << " bytes";
    run_command(
        std::string(ASIOCURL_DOWNLOAD_EXAMPLE) + " " + server.url("/status/404") + " " + file + " 2>&1",
        status);
    EXPECT_NE(status, 0);
}

TEST_F(stream_test, the_feed_example_prints_lines_of_an_endless_feed_and_stops) {
    int status = -1;
    const std::string output = run_command(
        std::string(ASIOCURL_FEED_LINES_EXAMPLE) + " --max 50 " + server.url("/ndjson?per_chunk=3"), status);
    EXPECT_EQ(status, 0) << output;
    std::string expected;
    for (int i = 0; i < 50; ++i)
        expected += std::to_string(i + 1) + ": {\"n\":" + std::to_string(i) + "}\n";
    EXPECT_EQ(output, expected);
}
#endif

}  // namespace
}  // namespace asiocurl

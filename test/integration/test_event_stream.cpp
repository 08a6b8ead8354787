// http::event_stream against the test server's /sse: odd chunkings, a drop mid-event and the Last-Event-ID
// the reconnection sends, the server's retry, the end (204), the size limit, a wrong answer, cancellation.
#include <asiocurl/http.hpp>
#include <asiocurl/http/event_stream.hpp>

#include "multi_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;

std::string unique_key() {
    static std::atomic<int> next{0};
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
           std::to_string(next++);
}

class event_stream_test : public test::multi_test {
protected:
    struct next_result {
        error_code ec;
        http::server_sent_event event;
    };

    next_result next(http::event_stream& es, std::chrono::milliseconds bound = 20s) {
        next_result out;
        int calls = 0;
        es.async_next([&](error_code ec, http::server_sent_event event) {
            ++calls;
            out = {ec, std::move(event)};
        });
        EXPECT_EQ(calls, 0) << "completed inside async_next";
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return calls > 0; }, bound))
            << "no event";
        EXPECT_EQ(calls, 1);
        return out;
    }

    // A call cancelled (with `type`) once it has waited a while: its error.
    error_code next_cancelled(http::event_stream& es, boost::asio::cancellation_type type) {
        boost::asio::cancellation_signal signal;
        int calls = 0;
        error_code ec;
        es.async_next(
            boost::asio::bind_cancellation_slot(signal.slot(), [&](error_code e, http::server_sent_event) {
                ++calls;
                ec = e;
            }));
        ioc.run_for(std::chrono::milliseconds(100));
        EXPECT_EQ(calls, 0) << "completed before it was cancelled";
        signal.emit(type);
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return calls > 0; }, std::chrono::seconds(5)));
        return ec;
    }

    // Every event until the stream ends; its error.
    error_code read_all(http::event_stream& es, std::vector<http::server_sent_event>& events) {
        for (;;) {
            auto got = next(es);
            if (got.ec) return got.ec;
            events.push_back(std::move(got.event));
        }
    }

    void expect_ticks(const std::vector<http::server_sent_event>& events, std::size_t count) {
        ASSERT_EQ(events.size(), count);
        for (std::size_t i = 0; i < count; ++i) {
            EXPECT_EQ(events[i].type, "tick");
            EXPECT_EQ(events[i].id, std::to_string(i + 1));
            EXPECT_EQ(events[i].data, "line one " + std::to_string(i + 1) + "\nline two");
        }
    }
};

TEST_F(event_stream_test, events_arrive_whole_in_any_chunking_and_a_204_ends_the_stream) {
    for (std::size_t chunk : {1u, 7u, 4096u}) {
        http::event_stream es(*m, server.url("/sse?count=12&chunk=" + std::to_string(chunk)), {},
                              {.reconnection_time = 10ms});
        std::vector<http::server_sent_event> events;
        EXPECT_EQ(read_all(es, events), boost::asio::error::eof) << "chunk " << chunk;
        expect_ticks(events, 12);
        EXPECT_EQ(es.last_event_id(), "12");
        EXPECT_EQ(es.reconnections(), 1u);  // the response ended: reconnected with Last-Event-ID 12, then 204
        // Ended: it stays so.
        EXPECT_EQ(next(es).ec, boost::asio::error::eof);
    }
}

TEST_F(event_stream_test, a_drop_mid_event_reconnects_after_the_servers_retry_with_last_event_id) {
    http::event_stream es(*m, server.url("/sse?count=30&retry=50&drop_after=500&key=" + unique_key()), {},
                          {.reconnection_time = 10s});  // the server's 50 ms wins
    std::vector<http::server_sent_event> events;
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(read_all(es, events), boost::asio::error::eof);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    expect_ticks(events, 30);  // each once, in order: the half event before the drop was dropped
    EXPECT_EQ(es.reconnections(), 2u);
}

TEST_F(event_stream_test, an_event_over_the_limit_fails_the_stream) {
    http::event_stream es(*m, server.url("/sse?count=3&size=5000"), {}, {.max_event_size = 1024});
    auto got = next(es);
    EXPECT_EQ(got.ec, errc::event_too_large);
    EXPECT_EQ(next(es).ec, errc::event_too_large);
}

TEST_F(event_stream_test, an_answer_that_is_not_an_event_stream_fails_it_without_reconnecting) {
    http::event_stream es(*m, server.url("/bytes/100"), {}, {.reconnection_time = 10ms});
    EXPECT_EQ(next(es).ec, errc::not_an_event_stream);
    EXPECT_EQ(es.header().result_int(), 200u);
    EXPECT_EQ(es.reconnections(), 0u);
    http::event_stream missing(*m, server.url("/status/404"), {}, {.reconnection_time = 10ms});
    EXPECT_EQ(next(missing).ec, errc::not_an_event_stream);
    EXPECT_EQ(missing.header().result_int(), 404u);
}

TEST_F(event_stream_test, a_request_refused_before_it_is_sent_fails_the_stream_from_the_executor) {
    http::event_stream es(*m, "/no/base/url");
    EXPECT_EQ(next(es).ec, errc::no_url);  // next() checks it did not complete inside async_next
    EXPECT_EQ(next(es).ec, errc::no_url);
}

TEST_F(event_stream_test, a_server_that_is_gone_ends_the_stream_after_the_reconnections_allowed) {
    http::event_stream es(*m, "http://127.0.0.1:9/sse", {},
                          {.reconnection_time = 1ms, .max_reconnections = 3});
    EXPECT_EQ(next(es).ec, condition::connect_failed);
    EXPECT_EQ(es.reconnections(), 3u);
}

TEST_F(event_stream_test, cancelling_a_call_keeps_the_connection_and_cancel_ends_the_stream) {
    http::event_stream es(*m, server.url("/sse?count=2&hang=1"), {}, {.reconnection_time = 30s});
    EXPECT_FALSE(next(es).ec);
    EXPECT_FALSE(next(es).ec);
    // Nothing more comes: the call waits until cancelled, the connection stays.
    EXPECT_EQ(next_cancelled(es, boost::asio::cancellation_type::terminal),
              boost::asio::error::operation_aborted);
    es.cancel();
    EXPECT_EQ(next(es).ec, boost::asio::error::operation_aborted);
}

TEST_F(event_stream_test, cancellation_ends_the_wait_to_reconnect_at_once) {
    http::event_stream es(*m, server.url("/sse?count=1"), {}, {.reconnection_time = 30s});
    EXPECT_FALSE(next(es).ec);
    // The response ends after one event: the stream waits 30 s to reconnect.
    const auto asked = std::chrono::steady_clock::now();
    EXPECT_EQ(next_cancelled(es, boost::asio::cancellation_type::total),
              boost::asio::error::operation_aborted);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 5s);
    EXPECT_EQ(es.reconnections(), 0u);
}

#ifdef ASIOCURL_TOKEN_STREAM_EXAMPLE
// The example prints every token once, in order, through a drop mid-event and the reconnection after it.
TEST_F(event_stream_test, the_token_stream_example_prints_tokens_through_a_drop) {
    const std::string out = ::testing::TempDir() + "token_stream.txt";
    const std::string url = server.url("/sse?count=8&chunk=3&retry=20&drop_after=100&key=" + unique_key());
    const std::string command =
        std::string(ASIOCURL_TOKEN_STREAM_EXAMPLE) + " '" + url + "' > " + out + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string expected;
    for (int n = 1; n <= 8; ++n)
        expected += "line one " + std::to_string(n) + "\nline two ";
    EXPECT_NE(text.find(expected), std::string::npos) << text;
    EXPECT_NE(text.find("8 tokens, 2 reconnections, last event id 8"), std::string::npos) << text;
}
#endif

}  // namespace
}  // namespace asiocurl

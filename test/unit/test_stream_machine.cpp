// http::stream's decisions without curl or an io_context (the way Boost.Redis tests its reader FSM): each
// event and what it asks of the driver — completions, pause changes, aborting the transfer — and every
// misuse.
#include <asiocurl/http/detail/stream_machine.hpp>

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>

#include <string>
#include <vector>

namespace asiocurl::http::detail {
namespace {

namespace aerror = boost::asio::error;
using machine = stream_machine;
using op = machine::op;

constexpr std::size_t largest_write = 16 * 1024;

buffer_list<boost::asio::mutable_buffer> into(std::vector<char>& storage) {
    return buffer_list<boost::asio::mutable_buffer>::from(boost::asio::buffer(storage));
}
buffer_list<boost::asio::const_buffer> from(const std::string& bytes) {
    return buffer_list<boost::asio::const_buffer>::from(boost::asio::buffer(bytes));
}

// The single completion an event produced.
machine::completion only(const machine::actions& a) {
    EXPECT_EQ(a.completed, 1u);
    if (a.completed == 0) return {machine::op::header, error_code(), 0, false};
    return a.completions[0];
}

machine started_download(std::size_t limit = 32 * 1024) {
    machine m(limit, largest_write);
    m.start(false, std::nullopt, {});
    return m;
}

// A list is copied from the initiating call to the machine; a copy carries exactly the buffers in use, in
// order, empty ones left out and the seventeenth on dropped (as Asio's buffer_sequence_adapter).
TEST(stream_machine, a_buffer_list_copy_holds_the_buffers_in_use) {
    std::vector<char> a(3), b(5), c(7);
    const std::vector<boost::asio::mutable_buffer> sequence = {
        boost::asio::buffer(a), boost::asio::mutable_buffer(), boost::asio::buffer(b),
        boost::asio::buffer(c)};
    const auto list = buffer_list<boost::asio::mutable_buffer>::from(sequence);
    const auto check = [&](const buffer_list<boost::asio::mutable_buffer>& copy) {
        ASSERT_EQ(copy.count, 3u);
        EXPECT_EQ(copy.buffers[0].data(), a.data());
        EXPECT_EQ(copy.buffers[1].data(), b.data());
        EXPECT_EQ(copy.buffers[2].data(), c.data());
        EXPECT_EQ(copy.size(), 15u);
    };
    const buffer_list<boost::asio::mutable_buffer> copied(list);
    check(copied);
    auto assigned = buffer_list<boost::asio::mutable_buffer>::from(boost::asio::buffer(c));
    assigned = list;
    check(assigned);
    std::vector<std::vector<char>> many(20, std::vector<char>(1));
    std::vector<boost::asio::mutable_buffer> long_sequence;
    for (auto& one : many)
        long_sequence.push_back(boost::asio::buffer(one));
    const auto capped = buffer_list<boost::asio::mutable_buffer>::from(long_sequence);
    const buffer_list<boost::asio::mutable_buffer> capped_copy(capped);
    EXPECT_EQ(capped_copy.count, 16u);
    EXPECT_EQ(capped_copy.size(), 16u);
    EXPECT_EQ(capped_copy.buffers[15].data(), many[15].data());
}

TEST(stream_machine, every_operation_before_start_is_not_connected) {
    machine m(64 * 1024, largest_write);
    std::vector<char> buffer(10);
    EXPECT_EQ(only(m.request_header()).ec, aerror::not_connected);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::not_connected);
    EXPECT_EQ(only(m.request_write(from("x"))).ec, aerror::not_connected);
    EXPECT_EQ(only(m.request_finish()).ec, aerror::not_connected);
    EXPECT_TRUE(only(m.request_header()).immediate);
    // Cancelling a stream that never started has nothing to abort.
    EXPECT_FALSE(m.cancel().abort_transfer);
}

TEST(stream_machine, the_buffer_limit_is_at_least_one_curl_write) {
    machine m(100, largest_write);
    EXPECT_EQ(m.buffer_limit(), largest_write);
}

TEST(stream_machine, header_waits_for_the_head_then_completes_once) {
    auto m = started_download();
    EXPECT_EQ(m.request_header().completed, 0u);
    EXPECT_TRUE(m.waiting(op::header));
    // A second one while the first waits fails at once; the first still waits.
    const auto second = only(m.request_header());
    EXPECT_TRUE(second.immediate);
    EXPECT_EQ(second.ec, aerror::in_progress);
    EXPECT_TRUE(m.waiting(op::header));

    const auto head = m.on_head_complete();
    EXPECT_TRUE(head.head_completed);
    const auto done = only(head);
    EXPECT_EQ(done.which, op::header);
    EXPECT_FALSE(done.immediate);
    EXPECT_FALSE(done.ec);
    EXPECT_FALSE(m.waiting(op::header));
    // Once the head is there, asking again succeeds at once; a second head event changes nothing.
    EXPECT_FALSE(only(m.request_header()).ec);
    EXPECT_FALSE(m.on_head_complete().head_completed);
}

TEST(stream_machine, the_first_body_byte_completes_the_head) {
    auto m = started_download();
    m.request_header();
    machine::actions a;
    EXPECT_EQ(m.on_body("abc", 3, a), 3u);
    EXPECT_TRUE(a.head_completed);
    EXPECT_EQ(only(a).which, op::header);
    EXPECT_EQ(m.buffered(), 3u);
}

TEST(stream_machine, a_waiting_read_gets_bytes_directly_and_the_rest_is_kept) {
    auto m = started_download();
    std::vector<char> buffer(4);
    EXPECT_EQ(m.request_read(into(buffer)).completed, 0u);
    machine::actions a;
    EXPECT_EQ(m.on_body("abcdefgh", 8, a), 8u);
    const auto read = a.completions[a.completed - 1];
    EXPECT_EQ(read.which, op::read);
    EXPECT_EQ(read.bytes, 4u);
    EXPECT_EQ(std::string(buffer.begin(), buffer.end()), "abcd");
    EXPECT_EQ(m.buffered(), 4u);
    // The next read is served from the buffer at once.
    const auto next = only(m.request_read(into(buffer)));
    EXPECT_TRUE(next.immediate);
    EXPECT_EQ(next.bytes, 4u);
    EXPECT_EQ(std::string(buffer.begin(), buffer.end()), "efgh");
    EXPECT_EQ(m.buffered(), 0u);
}

TEST(stream_machine, a_full_buffer_pauses_and_reading_resumes_only_with_room_for_a_whole_write) {
    auto m = started_download(32 * 1024);
    const std::string piece(largest_write, 'x');
    machine::actions a;
    EXPECT_EQ(m.on_body(piece.data(), piece.size(), a), piece.size());
    EXPECT_EQ(m.on_body(piece.data(), piece.size(), a), piece.size());
    EXPECT_EQ(m.buffered(), 32u * 1024);
    EXPECT_EQ(m.on_body(piece.data(), piece.size(), a), machine::pause);
    EXPECT_TRUE(m.paused().receive);
    EXPECT_EQ(m.pauses(), 1u);
    EXPECT_FALSE(a.set_pause);

    // Reading 1 KiB leaves no room for curl's next write: still paused.
    std::vector<char> small(1024);
    auto r = m.request_read(into(small));
    EXPECT_EQ(only(r).bytes, 1024u);
    EXPECT_FALSE(r.set_pause);
    // Reading 16 KiB more does: unpause (receiving), sending untouched.
    std::vector<char> large(largest_write);
    r = m.request_read(into(large));
    ASSERT_TRUE(r.set_pause);
    EXPECT_EQ(*r.set_pause, (machine::pause_state{false, false}));
    EXPECT_FALSE(m.paused().receive);
    // The held-back write is delivered again and fits now.
    EXPECT_EQ(m.on_body(piece.data(), piece.size(), a), piece.size());
    EXPECT_LE(m.max_buffered(), m.buffer_limit());
}

// The block grows as bytes arrive (from 4 KiB, doubling up to the limit) and is compacted when read from the
// front: bytes come out exact and in order through every growth, and never more than the limit is held.
TEST(stream_machine, bytes_come_out_exact_through_the_buffers_growth_and_compaction) {
    auto m = started_download(64 * 1024);
    std::string sent, received;
    std::vector<char> reader(3000);
    machine::actions a;
    for (std::size_t i = 0; sent.size() < 400 * 1024; ++i) {
        std::string piece(1 + (i * 7919) % 9000, '\0');
        for (std::size_t j = 0; j < piece.size(); ++j)
            piece[j] = static_cast<char>('a' + (sent.size() + j) % 23);
        if (m.on_body(piece.data(), piece.size(), a) == machine::pause) {
            // Full: read until curl's write fits again, as the stream's reader would.
            while (m.paused().receive) {
                const auto r = only(m.request_read(into(reader)));
                received.append(reader.data(), r.bytes);
            }
            ASSERT_EQ(m.on_body(piece.data(), piece.size(), a), piece.size());
        }
        sent += piece;
        if (i % 3 == 0) {
            const auto r = only(m.request_read(into(reader)));
            received.append(reader.data(), r.bytes);
        }
    }
    while (m.buffered() > 0) {
        const auto r = only(m.request_read(into(reader)));
        received.append(reader.data(), r.bytes);
    }
    EXPECT_EQ(received, sent);
    EXPECT_LE(m.max_buffered(), m.buffer_limit());
}

TEST(stream_machine, an_empty_buffer_is_always_taken_even_when_larger_than_the_limit) {
    auto m = started_download(largest_write);
    const std::string big(largest_write * 2, 'y');
    machine::actions a;
    EXPECT_EQ(m.on_body(big.data(), big.size(), a), big.size());
    EXPECT_EQ(m.buffered(), big.size());
}

TEST(stream_machine, reads_of_no_bytes_complete_at_once) {
    auto m = started_download();
    std::vector<char> none;
    const auto r = only(m.request_read(into(none)));
    EXPECT_TRUE(r.immediate);
    EXPECT_FALSE(r.ec);
    EXPECT_EQ(r.bytes, 0u);
}

TEST(stream_machine, a_second_read_while_one_waits_is_in_progress) {
    auto m = started_download();
    std::vector<char> buffer(10);
    m.request_read(into(buffer));
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::in_progress);
    EXPECT_TRUE(m.waiting(op::read));
}

TEST(stream_machine, after_the_end_buffered_bytes_come_first_then_eof) {
    auto m = started_download();
    machine::actions a;
    m.on_body("hello", 5, a);
    const auto end = m.on_done({});
    EXPECT_EQ(end.completed, 0u);
    std::vector<char> buffer(3);
    EXPECT_EQ(only(m.request_read(into(buffer))).bytes, 3u);
    EXPECT_EQ(only(m.request_read(into(buffer))).bytes, 2u);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::eof);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::eof);
}

TEST(stream_machine, a_failed_transfer_delivers_what_arrived_then_its_error) {
    auto m = started_download();
    machine::actions a;
    m.on_body("ab", 2, a);
    const error_code reset = make_error_code(CURLE_RECV_ERROR);
    m.on_done(reset);
    std::vector<char> buffer(10);
    EXPECT_EQ(only(m.request_read(into(buffer))).bytes, 2u);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, reset);
    EXPECT_EQ(only(m.request_header()).ec, error_code{});  // the head had arrived (with the first byte)
}

TEST(stream_machine, the_end_completes_what_waits) {
    auto m = started_download();
    m.request_header();
    const error_code refused = make_error_code(CURLE_COULDNT_CONNECT);
    const auto end = only(m.on_done(refused));
    EXPECT_EQ(end.which, op::header);
    EXPECT_EQ(end.ec, refused);
    EXPECT_EQ(only(m.request_header()).ec, refused);
}

TEST(stream_machine, a_response_without_a_body_completes_its_head_at_the_end) {
    auto m = started_download();
    m.request_header();
    std::vector<char> buffer(10);
    const auto end = m.on_done({});
    EXPECT_TRUE(end.head_completed);
    EXPECT_EQ(end.completions[0].which, op::header);
    EXPECT_FALSE(end.completions[0].ec);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::eof);
}

TEST(stream_machine, a_read_waiting_at_the_end_gets_eof) {
    auto m = started_download();
    std::vector<char> buffer(10);
    m.request_read(into(buffer));
    const auto end = m.on_done({});
    const auto read = end.completions[end.completed - 1];
    EXPECT_EQ(read.which, op::read);
    EXPECT_EQ(read.ec, aerror::eof);
}

TEST(stream_machine, cancel_aborts_the_transfer_whose_end_then_completes_everything_aborted) {
    auto m = started_download();
    std::vector<char> buffer(10);
    m.request_header();
    machine::actions a;
    m.on_body("xyz", 3, a);  // the head came, with 3 bytes now buffered
    m.request_read(into(buffer));
    m.request_read(into(buffer));
    const auto c = m.cancel();
    EXPECT_TRUE(c.abort_transfer);
    EXPECT_EQ(c.completed, 0u);
    EXPECT_EQ(m.buffered(), 0u);    // what was buffered is dropped
    const auto again = m.cancel();  // once only
    EXPECT_EQ(again.completed, 0u);
    EXPECT_FALSE(again.abort_transfer);
    // curl's callbacks are refused from now on.
    EXPECT_EQ(m.on_body("more", 4, a), machine::abort);
    char out[8];
    EXPECT_EQ(m.on_read(out, sizeof out, a), machine::abort);
    // Operations asked for afterwards fail at once (the read still waits, for the transfer's end).
    EXPECT_EQ(only(m.request_header()).ec, aerror::operation_aborted);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::in_progress);
    // Whatever curl reports, the outcome is operation_aborted, for the waiting read too.
    const auto end = only(m.on_done({}));
    EXPECT_EQ(end.which, op::read);
    EXPECT_EQ(end.ec, aerror::operation_aborted);
    EXPECT_EQ(m.transfer_error(), aerror::operation_aborted);
    EXPECT_EQ(only(m.request_read(into(buffer))).ec, aerror::operation_aborted);
}

TEST(stream_machine, cancel_after_the_end_completes_what_waits_itself) {
    auto m = started_download();
    m.on_done({});
    m.request_header();  // completes at once (head complete at the end)
    EXPECT_FALSE(m.cancel().abort_transfer);
}

TEST(stream_machine, cancelling_one_operation_keeps_the_exchange_unless_terminal) {
    auto m = started_download();
    std::vector<char> buffer(10);
    m.request_read(into(buffer));
    const auto c = only(m.cancel_op(op::read, false));
    EXPECT_EQ(c.which, op::read);
    EXPECT_EQ(c.ec, aerror::operation_aborted);
    EXPECT_FALSE(m.cancelled());
    // Nothing was consumed: the bytes go to the next read.
    machine::actions a;
    EXPECT_EQ(m.on_body("abc", 3, a), 3u);
    EXPECT_EQ(only(m.request_read(into(buffer))).bytes, 3u);
    // A cancellation for an operation that does not wait does nothing.
    EXPECT_EQ(m.cancel_op(op::read, true).completed, 0u);
    EXPECT_FALSE(m.cancelled());
    // Terminal: the read ends and the exchange with it.
    m.request_read(into(buffer));
    const auto t = m.cancel_op(op::read, true);
    EXPECT_EQ(only(t).ec, aerror::operation_aborted);
    EXPECT_TRUE(t.abort_transfer);
    EXPECT_TRUE(m.cancelled());
}

TEST(stream_machine, a_body_given_whole_is_handed_out_in_pieces_then_ends) {
    machine m(64 * 1024, largest_write);
    m.start(false, std::nullopt, "0123456789");
    machine::actions a;
    char out[4];
    EXPECT_EQ(m.on_read(out, 4, a), 4u);
    EXPECT_EQ(std::string(out, 4), "0123");
    EXPECT_EQ(m.on_read(out, 4, a), 4u);
    EXPECT_EQ(m.on_read(out, 4, a), 2u);
    EXPECT_EQ(m.on_read(out, 4, a), 0u);
    // Writing is for start_upload only.
    EXPECT_EQ(only(m.request_write(from("x"))).ec, aerror::operation_not_supported);
    EXPECT_EQ(only(m.request_finish()).ec, aerror::operation_not_supported);
}

TEST(stream_machine, an_upload_pauses_until_written_and_each_write_completes_when_curl_takes_it) {
    machine m(64 * 1024, largest_write);
    m.start(true, std::nullopt, {});
    machine::actions a;
    char out[4];
    EXPECT_EQ(m.on_read(out, 4, a), machine::pause);
    EXPECT_TRUE(m.paused().send);

    const std::string bytes = "abcdef";
    const auto w = m.request_write(from(bytes));
    EXPECT_EQ(w.completed, 0u);
    ASSERT_TRUE(w.set_pause);
    EXPECT_FALSE(w.set_pause->send);
    // A second write, or a finish, while one waits.
    EXPECT_EQ(only(m.request_write(from(bytes))).ec, aerror::in_progress);
    EXPECT_EQ(only(m.request_finish()).ec, aerror::in_progress);

    machine::actions taken;
    EXPECT_EQ(m.on_read(out, 4, taken), 4u);
    EXPECT_EQ(std::string(out, 4), "abcd");
    EXPECT_EQ(only(taken).which, op::write);
    EXPECT_EQ(only(taken).bytes, 4u);  // a partial write, as AsyncWriteStream allows
    EXPECT_EQ(m.on_read(out, 4, a), machine::pause);

    // Chunked: a finish makes the next read callback end the body, and completes then.
    EXPECT_EQ(m.request_finish().completed, 0u);
    EXPECT_EQ(only(m.request_write(from(bytes))).ec, aerror::in_progress);  // the finish waits
    machine::actions finished;
    EXPECT_EQ(m.on_read(out, 4, finished), 0u);
    EXPECT_EQ(only(finished).which, op::finish);
    EXPECT_FALSE(only(finished).ec);
    EXPECT_EQ(only(m.request_write(from(bytes))).ec, aerror::shut_down);
}

TEST(stream_machine, a_declared_upload_size_is_enforced) {
    machine m(64 * 1024, largest_write);
    m.start(true, 5, {});
    // Fewer bytes than declared cannot be finished.
    EXPECT_EQ(only(m.request_finish()).ec, errc::upload_size_mismatch);
    const std::string bytes = "abcdefgh";
    m.request_write(from(bytes));
    machine::actions a;
    char out[16];
    // curl is given at most the declared size.
    EXPECT_EQ(m.on_read(out, sizeof out, a), 5u);
    EXPECT_EQ(only(a).bytes, 5u);
    // Beyond it.
    EXPECT_EQ(only(m.request_write(from(bytes))).ec, errc::upload_size_mismatch);
    // Curl has all of it: finishing needs nothing more from curl.
    const auto f = only(m.request_finish());
    EXPECT_TRUE(f.immediate);
    EXPECT_FALSE(f.ec);
}

TEST(stream_machine, a_write_past_the_declared_size_is_refused_as_such_after_the_transfer_ended) {
    // The server may answer, and curl end the transfer, as soon as it has the declared bytes: the caller's
    // next write is still a write past the length it declared, whenever the end is learnt.
    machine m(64 * 1024, largest_write);
    m.start(true, 5, {});
    const std::string bytes = "abcde";
    m.request_write(from(bytes));
    machine::actions a;
    char out[16];
    EXPECT_EQ(m.on_read(out, sizeof out, a), 5u);
    m.on_done({});
    EXPECT_EQ(only(m.request_write(from("x"))).ec, errc::upload_size_mismatch);
    // An empty write past the end is not a write past the length.
    EXPECT_EQ(only(m.request_write(from(""))).ec, aerror::broken_pipe);
}

TEST(stream_machine, writes_after_the_end_fail_with_its_error_or_broken_pipe) {
    machine m(64 * 1024, largest_write);
    m.start(true, std::nullopt, {});
    m.on_done({});  // the server answered early
    EXPECT_EQ(only(m.request_write(from("x"))).ec, aerror::broken_pipe);
    EXPECT_EQ(only(m.request_finish()).ec, aerror::broken_pipe);

    machine failed(64 * 1024, largest_write);
    failed.start(true, std::nullopt, {});
    const error_code reset = make_error_code(CURLE_SEND_ERROR);
    failed.request_write(from("x"));
    const auto end = only(failed.on_done(reset));
    EXPECT_EQ(end.which, op::write);
    EXPECT_EQ(end.ec, reset);
    EXPECT_EQ(only(failed.request_write(from("x"))).ec, reset);
}

TEST(stream_machine, a_finish_waiting_at_the_end_completes_by_whether_curl_had_the_body) {
    machine m(64 * 1024, largest_write);
    m.start(true, std::nullopt, {});
    m.request_finish();
    EXPECT_EQ(only(m.on_done({})).ec, aerror::broken_pipe);

    machine ended(64 * 1024, largest_write);
    ended.start(true, std::nullopt, {});
    ended.request_finish();
    machine::actions a;
    char out[4];
    ended.on_read(out, 4, a);  // ends the body and completes the finish
    EXPECT_EQ(only(a).which, op::finish);
    EXPECT_EQ(ended.on_done({}).completed, 0u);
}

TEST(stream_machine, no_pause_change_once_the_transfer_ended_or_was_cancelled) {
    auto m = started_download(largest_write);
    const std::string piece(largest_write, 'x');
    machine::actions a;
    m.on_body(piece.data(), piece.size(), a);
    EXPECT_EQ(m.on_body(piece.data(), piece.size(), a), machine::pause);
    m.on_done({});
    std::vector<char> buffer(largest_write);
    EXPECT_FALSE(m.request_read(into(buffer)).set_pause);
}

}  // namespace
}  // namespace asiocurl::http::detail

// http::sse_parser against the standard's rules (WHATWG HTML 9.2.6) and its examples, in every chunking.
#include <asiocurl/http/sse_parser.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asiocurl::http {
namespace {

using namespace std::chrono_literals;

std::vector<server_sent_event> parse_whole(std::string_view text, sse_parser& parser) {
    std::vector<server_sent_event> events;
    EXPECT_FALSE(parser.feed(text, events));
    return events;
}

std::vector<server_sent_event> parse_whole(std::string_view text) {
    sse_parser parser;
    return parse_whole(text, parser);
}

// The same stream fed in pieces of `size` bytes: the events must not depend on where chunks end.
std::vector<server_sent_event> parse_in_pieces(std::string_view text, std::size_t size) {
    sse_parser parser;
    std::vector<server_sent_event> events;
    for (std::size_t at = 0; at < text.size(); at += size)
        EXPECT_FALSE(parser.feed(text.substr(at, size), events));
    return events;
}

bool operator==(const server_sent_event& a, const server_sent_event& b) {
    return a.type == b.type && a.data == b.data && a.id == b.id;
}

void expect_same_in_every_chunking(std::string_view text) {
    const auto whole = parse_whole(text);
    for (std::size_t size = 1; size <= text.size(); ++size) {
        const auto pieces = parse_in_pieces(text, size);
        ASSERT_EQ(pieces.size(), whole.size()) << "pieces of " << size;
        for (std::size_t i = 0; i < whole.size(); ++i)
            EXPECT_TRUE(pieces[i] == whole[i]) << "pieces of " << size << ", event " << i;
    }
}

TEST(sse_parser, the_standards_stock_example) {
    const std::string text = "data: YHOO\ndata: +2\ndata: 10\n\n";
    const auto events = parse_whole(text);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "message");
    EXPECT_EQ(events[0].data, "YHOO\n+2\n10");
    expect_same_in_every_chunking(text);
}

TEST(sse_parser, comments_ids_and_a_last_event_without_a_blank_line) {
    // The standard's second example: four blocks, the last one never dispatched (no blank line after it).
    const std::string text =
        ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event";
    sse_parser parser;
    const auto events = parse_whole(text, parser);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].data, "first event");
    EXPECT_EQ(events[0].id, "1");
    EXPECT_EQ(events[1].data, "second event");
    EXPECT_EQ(events[1].id, "");  // "id" alone resets it
    EXPECT_EQ(parser.last_event_id(), "");
    expect_same_in_every_chunking(text);
}

TEST(sse_parser, one_leading_space_is_dropped_from_a_value_and_no_more) {
    const auto events = parse_whole("data:test\n\ndata: test\n\ndata:  test\n\n");
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].data, "test");
    EXPECT_EQ(events[1].data, "test");
    EXPECT_EQ(events[2].data, " test");
}

TEST(sse_parser, empty_data_lines_and_a_field_without_colon) {
    // The standard's third example: "data" alone is an empty data line; two of them make one LF.
    const auto events = parse_whole("data\n\ndata\ndata\n\ndata:\n");
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].data, "");
    EXPECT_EQ(events[1].data, "\n");
}

TEST(sse_parser, cr_lf_and_crlf_all_end_lines_even_split_between_chunks) {
    const std::string text = "event: a\rdata: 1\r\n\r\nevent: b\ndata: 2\n\ndata: 3\r\rdata: 4\r\n\n";
    const auto events = parse_whole(text);
    ASSERT_EQ(events.size(), 4u);
    EXPECT_EQ(events[0].type, "a");
    EXPECT_EQ(events[0].data, "1");
    EXPECT_EQ(events[1].type, "b");
    EXPECT_EQ(events[2].type, "message");  // the type does not outlive its event
    EXPECT_EQ(events[2].data, "3");
    EXPECT_EQ(events[3].data, "4");
    expect_same_in_every_chunking(text);
}

TEST(sse_parser, a_bom_at_the_start_is_skipped_once) {
    const std::string text =
        "\xEF\xBB\xBF"
        "data: after a bom\n\n";
    const auto events = parse_whole(text);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "after a bom");
    expect_same_in_every_chunking(text);
    // A second BOM is part of the field's name: not "data".
    EXPECT_TRUE(parse_whole("\xEF\xBB\xBF\xEF\xBB\xBF"
                            "data: x\n\n")
                    .empty());
    // Half a BOM is text.
    const auto half = parse_whole(
        "\xEF\xBB"
        "data: x\n\n");
    EXPECT_TRUE(half.empty());
}

TEST(sse_parser, the_id_is_kept_across_events_and_not_set_with_nul) {
    static constexpr char text[] = "id: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\n";
    sse_parser parser;
    auto events = parse_whole(std::string_view(text, sizeof text - 1), parser);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[1].id, "7");
    EXPECT_EQ(events[2].id, "7");  // an id with NUL is ignored
    // An id block without data sets the last event ID but dispatches nothing.
    events = parse_whole("id: 9\n\n", parser);
    EXPECT_TRUE(events.empty());
    EXPECT_EQ(parser.last_event_id(), "9");
}

TEST(sse_parser, retry_takes_digits_only) {
    sse_parser parser;
    parse_whole("retry: 1500\n\n", parser);
    EXPECT_EQ(parser.retry(), 1500ms);
    parse_whole("retry: 15x\nretry: -1\nretry:\nretry: 1.5\n\n", parser);
    EXPECT_EQ(parser.retry(), 1500ms);  // unchanged
    parse_whole("retry: 99999999999999999999999999\n\n", parser);
    EXPECT_GT(parser.retry()->count(), 1'000'000'000'000);
}

TEST(sse_parser, unknown_fields_are_ignored) {
    const auto events = parse_whole("foo: bar\ndata: kept\nData: not data\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "kept");
}

TEST(sse_parser, many_events_in_one_chunk) {
    std::string text;
    for (int i = 0; i < 100; ++i)
        text += "id: " + std::to_string(i) + "\ndata: " + std::to_string(i * i) + "\n\n";
    const auto events = parse_whole(text);
    ASSERT_EQ(events.size(), 100u);
    EXPECT_EQ(events[99].id, "99");
    EXPECT_EQ(events[99].data, "9801");
}

TEST(sse_parser, a_line_or_an_event_over_the_limit_fails_the_stream) {
    sse_parser lines(16);
    std::vector<server_sent_event> events;
    EXPECT_FALSE(lines.feed("data: 0123456789", events));       // 16 bytes: at the limit
    EXPECT_EQ(lines.feed("x", events), errc::event_too_large);  // one more, not yet a line's end
    EXPECT_EQ(lines.feed("\n\ndata: y\n\n", events), errc::event_too_large);  // failed stays failed
    EXPECT_TRUE(events.empty());

    sse_parser data(16);
    EXPECT_FALSE(data.feed("data: 0123456\ndata: 0123456\n\n", events));  // 8 + 8 bytes of data: at the limit
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "0123456\n0123456");
    events.clear();
    sse_parser over(16);
    EXPECT_EQ(over.feed("data: 01234567\ndata: 01234567\n\n", events), errc::event_too_large);  // 9 + 9
    EXPECT_TRUE(events.empty());
    over.reset();
    EXPECT_FALSE(over.feed("data: ok\n\n", events));
    ASSERT_EQ(events.size(), 1u);
}

TEST(sse_parser, reset_drops_what_was_unfinished_and_keeps_the_id_and_retry) {
    sse_parser parser;
    auto events = parse_whole("id: 3\nretry: 10\ndata: done\n\ndata: half", parser);
    ASSERT_EQ(events.size(), 1u);
    parser.reset();
    events = parse_whole(
        "\xEF\xBB\xBF"
        "data: next\n\n",
        parser);  // a new connection may start with a BOM
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, "next");
    EXPECT_EQ(events[0].id, "3");
    EXPECT_EQ(parser.retry(), 10ms);
}

}  // namespace
}  // namespace asiocurl::http

// libFuzzer target for http::sse_parser. Properties beyond "no crash, no sanitizer report": every event is
// well-formed (a type without CR or LF, data without CR, an id without CR, LF or NUL, nothing over the
// limit), and the events do not depend on how the bytes were chunked (the input whole, and in pieces of a
// size the first byte chooses, give the same events and the same verdict).
#include <asiocurl/http/sse_parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

void check(bool property) {
    if (!property) std::abort();
}

bool has_any(std::string_view text, std::string_view characters) {
    return text.find_first_of(characters) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t piece = 1 + data[0] % 17;
    const std::size_t limit = 64 + data[0] * 4;
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

    asiocurl::http::sse_parser whole(limit);
    std::vector<asiocurl::http::server_sent_event> all_at_once;
    const auto whole_verdict = whole.feed(input, all_at_once);

    asiocurl::http::sse_parser pieces(limit);
    std::vector<asiocurl::http::server_sent_event> in_pieces;
    asiocurl::error_code pieces_verdict;
    for (std::size_t at = 0; at < input.size() && !pieces_verdict; at += piece)
        pieces_verdict = pieces.feed(input.substr(at, piece), in_pieces);

    check(static_cast<bool>(whole_verdict) == static_cast<bool>(pieces_verdict));
    if (!whole_verdict) check(all_at_once.size() == in_pieces.size());
    for (std::size_t i = 0; i < all_at_once.size() && i < in_pieces.size(); ++i) {
        check(all_at_once[i].type == in_pieces[i].type);
        check(all_at_once[i].data == in_pieces[i].data);
        check(all_at_once[i].id == in_pieces[i].id);
    }
    for (const auto& event : all_at_once) {
        check(!event.type.empty() && !has_any(event.type, "\r\n"));
        check(!has_any(event.data, "\r"));
        check(!has_any(event.id, std::string_view("\r\n\0", 3)));
        check(event.data.size() <= limit);
    }
    if (!whole_verdict)
        check(whole.last_event_id() == pieces.last_event_id() && whole.retry() == pieces.retry());
    return 0;
}

// http::sse_parser (sse_parser.hpp): WHATWG HTML 9.2.6, step by step.
#include <asiocurl/http/sse_parser.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

namespace asiocurl::http {
namespace {

constexpr std::string_view bom = "\xEF\xBB\xBF";

}  // namespace

sse_parser::sse_parser(std::size_t max_event_size)
    : max_event_size_(std::max<std::size_t>(max_event_size, 1)) {}

void sse_parser::reset() noexcept {
    at_start_ = true;
    bom_matched_ = 0;
    after_cr_ = false;
    failed_ = false;
    line_.clear();
    data_.clear();
    type_.clear();
    id_buffer_ = last_event_id_;
}

error_code sse_parser::feed(std::string_view bytes, std::vector<server_sent_event>& events) {
    if (failed_) return errc::event_too_large;
    // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present": only at the very
    // start of the stream, and it may arrive a byte at a time.
    while (at_start_ && !bytes.empty()) {
        if (bytes.front() == bom[bom_matched_]) {
            bytes.remove_prefix(1);
            if (++bom_matched_ == bom.size()) at_start_ = false;
            continue;
        }
        // Not a BOM after all: what matched of it is text.
        line_.append(bom.substr(0, bom_matched_));
        at_start_ = false;
    }
    while (!bytes.empty()) {
        if (after_cr_) {
            after_cr_ = false;
            if (bytes.front() == '\n') {  // the LF of a CRLF: that line ended at the CR
                bytes.remove_prefix(1);
                continue;
            }
        }
        const auto end = bytes.find_first_of("\r\n");
        const std::string_view piece = bytes.substr(0, end);
        if (line_.size() + piece.size() > max_event_size_) {
            failed_ = true;
            return errc::event_too_large;
        }
        if (end == std::string_view::npos) {
            line_.append(piece);
            break;
        }
        after_cr_ = bytes[end] == '\r';
        bytes.remove_prefix(end + 1);
        if (line_.empty()) {
            line(piece, events);
        } else {
            line_.append(piece);
            line(line_, events);
            line_.clear();
        }
        if (failed_) return errc::event_too_large;
    }
    return {};
}

void sse_parser::line(std::string_view text, std::vector<server_sent_event>& events) {
    if (text.empty()) return dispatch(events);
    if (text.front() == ':') return;  // a comment
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return field(text, {});
    std::string_view value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    field(text.substr(0, colon), value);
}

void sse_parser::field(std::string_view name, std::string_view value) {
    if (name == "event") {
        type_.assign(value);
    } else if (name == "data") {
        if (data_.size() + value.size() + 1 > max_event_size_) {
            failed_ = true;
            return;
        }
        data_.append(value);
        data_.push_back('\n');
    } else if (name == "id") {
        if (value.find('\0') == std::string_view::npos) id_buffer_.assign(value);
    } else if (name == "retry") {
        if (value.empty() ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return;
        std::uint64_t ms = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
        // Digits only, so only a number too large for 64 bits fails: the longest wait there is.
        if (ec == std::errc::result_out_of_range ||
            ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            ms = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        retry_ = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    }
}

void sse_parser::dispatch(std::vector<server_sent_event>& events) {
    last_event_id_ = id_buffer_;
    if (data_.empty()) {
        type_.clear();
        return;
    }
    data_.pop_back();  // the LF after the last data line
    server_sent_event& event = events.emplace_back();
    if (!type_.empty()) event.type = std::move(type_);
    event.data = std::move(data_);
    event.id = last_event_id_;
    data_.clear();
    type_.clear();
}

}  // namespace asiocurl::http

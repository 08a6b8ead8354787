#include "multipart_parser.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>

namespace asiocurl::test {
namespace {

// Thrown at the first violation: a body is either valid or rejected, so nothing past it needs reading.
struct violation {
    std::size_t offset;
    std::string what;
};

bool is_alphanumeric(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 5.6.2.
bool is_tchar(char c) {
    return is_alphanumeric(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// RFC 2046 5.1.1 bcharsnospace.
bool is_bchar_without_space(char c) {
    return is_alphanumeric(c) || std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

bool is_whitespace(char c) {
    return c == ' ' || c == '\t';
}

// Field values may hold obs-text (curl sends UTF-8 file names raw) but no control character except HTAB.
bool is_field_value_char(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte == '\t' || (byte >= 0x20 && byte != 0x7F);
}

bool is_valid_boundary(std::string_view boundary) {
    return !boundary.empty() && boundary.size() <= 70 && boundary.back() != ' ' &&
           std::all_of(boundary.begin(), boundary.end(),
                       [](char c) { return c == ' ' || is_bchar_without_space(c); });
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim_whitespace(std::string_view text) {
    while (!text.empty() && is_whitespace(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_whitespace(text.back()))
        text.remove_suffix(1);
    return text;
}

// A byte as the error text shows it: control characters and obs-text would be unreadable or invisible.
std::string describe(char c) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7F) return std::string("'") + c + "'";
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(byte));
    return hex;
}

// Walks one field value; offsets are reported relative to the whole body, which starts `base` bytes earlier.
class field_cursor {
public:
    field_cursor(std::string_view text, std::size_t base) : text_(text), base_(base) {}

    bool at_end() const { return pos_ == text_.size(); }
    std::size_t offset() const { return base_ + pos_; }

    bool next_is(char c) const { return !at_end() && text_[pos_] == c; }

    bool consume(char c) {
        if (at_end() || text_[pos_] != c) return false;
        ++pos_;
        return true;
    }

    void expect(char c, std::string_view context) {
        if (!consume(c))
            fail(std::string("expected '") + c + "' " + std::string(context) + ", found " + found());
    }

    void skip_whitespace() {
        while (!at_end() && is_whitespace(text_[pos_]))
            ++pos_;
    }

    std::string_view token(std::string_view what) {
        const std::size_t start = pos_;
        while (!at_end() && is_tchar(text_[pos_]))
            ++pos_;
        if (pos_ == start) fail("expected " + std::string(what) + " (a token), found " + found());
        return text_.substr(start, pos_ - start);
    }

    // RFC 9110 5.6.4, with the backslash escapes resolved: curl escapes '"' and '\' that way when
    // CURLMIMEOPT_FORMESCAPE is set.
    std::string quoted_string() {
        expect('"', "to open a quoted string");
        std::string value;
        for (;;) {
            if (at_end()) fail("quoted string is not closed");
            const char c = text_[pos_];
            if (c == '"') {
                ++pos_;
                return value;
            }
            if (c == '\\') {
                ++pos_;
                if (at_end()) fail("backslash at the end of a quoted string");
            }
            if (!is_field_value_char(text_[pos_])) fail(describe(text_[pos_]) + " inside a quoted string");
            value += text_[pos_++];
        }
    }

    [[noreturn]] void fail(std::string what) const { throw violation{offset(), std::move(what)}; }

private:
    std::string found() const {
        return at_end() ? std::string("the end of the value") : describe(text_[pos_]);
    }

    std::string_view text_;
    std::size_t base_;
    std::size_t pos_ = 0;
};

using parameter_list = std::vector<std::pair<std::string, std::string>>;

// RFC 9110 8.3.1 lets a media type end in ";" and have ";;"; RFC 6266's Content-Disposition does not.
enum class empty_parameters { allowed, rejected };

// "type[/subtype] *(OWS ; OWS name=value)": the type lower-cased, the parameters by lower-cased name.
std::string read_type_and_parameters(field_cursor& cursor, bool with_subtype, empty_parameters empties,
                                     parameter_list& parameters) {
    std::string type = lowercase(cursor.token("a type"));
    if (with_subtype) {
        cursor.expect('/', "between type and subtype");
        type += '/' + lowercase(cursor.token("a subtype"));
    }
    for (;;) {
        cursor.skip_whitespace();
        if (cursor.at_end()) return type;
        cursor.expect(';', "before a parameter");
        cursor.skip_whitespace();
        if (empties == empty_parameters::allowed && (cursor.at_end() || cursor.consume(';'))) continue;
        const std::size_t name_offset = cursor.offset();
        std::string name = lowercase(cursor.token("a parameter name"));
        cursor.expect('=', "after parameter name \"" + name + "\"");
        std::string value =
            cursor.next_is('"') ? cursor.quoted_string() : std::string(cursor.token("a value"));
        // Which of two values a receiver would take is anyone's guess, so neither is taken.
        if (std::any_of(parameters.begin(), parameters.end(), [&](const auto& p) { return p.first == name; }))
            throw violation{name_offset, "parameter \"" + name + "\" given twice"};
        parameters.emplace_back(std::move(name), std::move(value));
    }
}

const std::string* find_parameter(const parameter_list& parameters, std::string_view name) {
    for (const auto& [key, value] : parameters)
        if (key == name) return &value;
    return nullptr;
}

class body_reader {
public:
    body_reader(std::string_view body, std::string_view boundary, std::vector<multipart_part>& parts)
        : body_(body), dash_boundary_("--" + std::string(boundary)), parts_(parts) {}

    void read() {
        std::size_t at = after_first_delimiter();
        for (;;) {
            multipart_part part;
            const std::size_t body_start = read_header_section(at, part);
            const std::size_t body_end = find_body_end(body_start);
            part.body = body_.substr(body_start, body_end - body_start);
            parts_.push_back(std::move(part));
            at = body_end + std::string_view("\r\n").size() + dash_boundary_.size();
            if (body_.substr(at).starts_with("--")) {
                check_after_close_delimiter(at + 2);
                return;
            }
            at = after_delimiter_line(at);
        }
    }

private:
    std::string part_label() const { return "part " + std::to_string(parts_.size() + 1); }

    std::size_t skip_padding(std::size_t at) const {
        while (at < body_.size() && is_whitespace(body_[at]))
            ++at;
        return at;
    }

    bool crlf_at(std::size_t at) const { return body_.substr(at).starts_with("\r\n"); }

    // The preamble is for the receiver to ignore (RFC 2046), so it may hold anything, the boundary mid-line
    // included: only a line that starts with it is a delimiter.
    std::size_t after_first_delimiter() const {
        std::size_t delimiter = 0;
        if (!body_.starts_with(dash_boundary_)) {
            const std::size_t lf = body_.find("\n" + dash_boundary_);
            if (lf == std::string_view::npos)
                throw violation{body_.size(),
                                "no line starts with \"" + dash_boundary_ + "\": the body has no parts"};
            if (lf == 0 || body_[lf - 1] != '\r') throw violation{lf, "bare LF before the first delimiter"};
            delimiter = lf + 1;
        }
        const std::size_t after_boundary = delimiter + dash_boundary_.size();
        if (body_.substr(after_boundary).starts_with("--"))
            throw violation{delimiter, "the first delimiter is the close delimiter: the form has zero parts"};
        return after_delimiter_line(after_boundary);
    }

    // What may follow "--boundary" on its line: transport padding, then CRLF.
    std::size_t after_delimiter_line(std::size_t after_boundary) const {
        const std::size_t at = skip_padding(after_boundary);
        if (crlf_at(at)) return at + 2;
        if (at == body_.size() || body_.substr(at) == "\r")
            throw violation{body_.size(), "the body ends in a delimiter line, without the close delimiter"};
        if (body_[at] == '\n') throw violation{at, "bare LF ends a delimiter line"};
        throw violation{
            at, describe(body_[at]) + " after a delimiter: only spaces and tabs may precede its CRLF"};
    }

    // The epilogue, like the preamble, is for the receiver to ignore; it only has to start on a line of its
    // own.
    void check_after_close_delimiter(std::size_t after_close) const {
        const std::size_t at = skip_padding(after_close);
        if (at == body_.size() || crlf_at(at)) return;
        if (body_[at] == '\n') throw violation{at, "bare LF ends the close delimiter line"};
        throw violation{at, describe(body_[at]) +
                                " after the close delimiter: only spaces and tabs may precede its CRLF"};
    }

    // Reads the fields up to the empty line that ends them; returns where the body starts.
    std::size_t read_header_section(std::size_t at, multipart_part& part) const {
        const std::size_t section_start = at;
        bool has_disposition = false;
        for (;;) {
            const std::size_t line_end = find_header_line_end(at);
            const std::string_view line = body_.substr(at, line_end - at);
            if (line.empty()) break;
            if (line.starts_with(dash_boundary_))
                throw violation{at, "a delimiter inside the header section of " + part_label() +
                                        ": no empty line ended its headers"};
            if (is_whitespace(line.front())) throw folded_line(at);
            // Before the field is read, or a fold would be reported as the truncated value it leaves behind.
            if (line_end + 2 < body_.size() && is_whitespace(body_[line_end + 2]))
                throw folded_line(line_end + 2);
            read_header_field(line, at, part, has_disposition);
            at = line_end + 2;
        }
        if (!has_disposition)
            throw violation{section_start, part_label() + " has no Content-Disposition field"};
        return at + 2;
    }

    violation folded_line(std::size_t at) const {
        return {at, "a header line of " + part_label() +
                        " starts with whitespace: folded lines (obs-fold) are not allowed"};
    }

    std::size_t find_header_line_end(std::size_t at) const {
        const std::size_t end = body_.find_first_of("\r\n", at);
        if (end != std::string_view::npos && body_[end] == '\n')
            throw violation{end, "bare LF in the header section of " + part_label()};
        if (end == std::string_view::npos || end + 1 == body_.size())
            throw violation{body_.size(), "the body ends inside the header section of " + part_label() +
                                              ", without the close delimiter"};
        if (body_[end + 1] != '\n')
            throw violation{end, "CR without LF in the header section of " + part_label()};
        return end;
    }

    void read_header_field(std::string_view line, std::size_t at, multipart_part& part,
                           bool& has_disposition) const {
        field_cursor cursor(line, at);
        std::string name = lowercase(cursor.token("a field name"));
        // RFC 9110 5.1: whitespace before the colon has been used to smuggle fields, so it is an error.
        cursor.expect(':', "after the field name");
        std::string_view value = line.substr(name.size() + 1);
        std::size_t value_offset = at + name.size() + 1;
        while (!value.empty() && is_whitespace(value.front())) {
            value.remove_prefix(1);
            ++value_offset;
        }
        value = trim_whitespace(value);
        for (std::size_t i = 0; i < value.size(); ++i)
            if (!is_field_value_char(value[i]))
                throw violation{value_offset + i, describe(value[i]) + " in the value of field " + name};

        if (name == "content-disposition") {
            if (has_disposition)
                throw violation{at, part_label() + " has a second Content-Disposition field"};
            has_disposition = true;
            read_disposition(value, value_offset, part);
        } else if (name == "content-type") {
            if (part.content_type) throw violation{at, part_label() + " has a second Content-Type field"};
            field_cursor media_type(value, value_offset);
            parameter_list ignored;
            read_type_and_parameters(media_type, true, empty_parameters::allowed, ignored);
            part.content_type = std::string(value);
        }
        part.headers.emplace_back(std::move(name), std::string(value));
    }

    void read_disposition(std::string_view value, std::size_t value_offset, multipart_part& part) const {
        field_cursor cursor(value, value_offset);
        parameter_list parameters;
        if (read_type_and_parameters(cursor, false, empty_parameters::rejected, parameters) != "form-data")
            throw violation{value_offset, "the Content-Disposition of " + part_label() + " is not form-data"};
        const std::string* name = find_parameter(parameters, "name");
        if (!name)
            throw violation{value_offset,
                            "the Content-Disposition of " + part_label() + " has no name parameter"};
        part.name = *name;
        if (const std::string* filename = find_parameter(parameters, "filename")) part.filename = *filename;
    }

    // Returns where the CRLF before the next delimiter starts, which is where the body ends.
    std::size_t find_body_end(std::size_t body_start) const {
        // The CRLF of the empty line cannot double as the delimiter's: then the part has no body at all.
        if (body_.substr(body_start).starts_with(dash_boundary_))
            throw violation{body_start,
                            "the delimiter directly follows the empty line after the headers of " +
                                part_label() + ": a CRLF must precede it even when the body is empty"};
        // An LF-only line that starts with the boundary is body bytes to RFC 2046, but a sender that meant it
        // as content would have picked another boundary: it is a delimiter with a bare LF.
        const std::size_t lf = body_.find("\n" + dash_boundary_, body_start);
        if (lf == std::string_view::npos)
            throw violation{body_.size(), "the body ends in the middle of " + part_label() +
                                              ", without the close delimiter"};
        if (lf == body_start || body_[lf - 1] != '\r') throw violation{lf, "bare LF before a delimiter"};
        return lf - 1;
    }

    std::string_view body_;
    std::string dash_boundary_;
    std::vector<multipart_part>& parts_;
};

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    try {
        field_cursor cursor(trim_whitespace(content_type), 0);
        parameter_list parameters;
        if (read_type_and_parameters(cursor, true, empty_parameters::allowed, parameters) !=
            "multipart/form-data")
            return std::nullopt;
        const std::string* boundary = find_parameter(parameters, "boundary");
        if (!boundary || !is_valid_boundary(*boundary)) return std::nullopt;
        return *boundary;
    } catch (const violation&) {
        return std::nullopt;
    }
}

multipart_result parse_multipart(std::string_view body, std::string_view boundary) {
    multipart_result result;
    if (!is_valid_boundary(boundary)) {
        result.error = "\"" + std::string(boundary) +
                       "\" is no boundary: RFC 2046 wants 1 to 70 bchars, not ending in a space";
        return result;
    }
    try {
        body_reader(body, boundary, result.parts).read();
    } catch (const violation& found) {
        result.error = "offset " + std::to_string(found.offset) + ": " + found.what;
    }
    return result;
}

}  // namespace asiocurl::test

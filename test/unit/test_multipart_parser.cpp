// The test server's multipart/form-data reader against RFC 7578 / RFC 2046 5.1: what it accepts, and that
// every rule it enforces is reported at the byte where it is broken.
#include "multipart_parser.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::test {
namespace {

constexpr std::string_view boundary = "XyZ";

std::string part(std::string_view name, std::string_view body) {
    return "--XyZ\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n\r\n" +
           std::string(body) + "\r\n";
}

const std::string close_delimiter = "--XyZ--\r\n";

// A rejection must name the offset first, and `about` tells which rule fired.
::testing::AssertionResult rejected_at(const multipart_result& result, std::size_t offset,
                                       std::string_view about) {
    const std::string prefix = "offset " + std::to_string(offset) + ": ";
    if (result.error.starts_with(prefix) && result.error.find(about) != std::string::npos)
        return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected an error at offset " << offset << " about \"" << about
                                         << "\", got \"" << result.error << "\"";
}

::testing::AssertionResult rejected_at(std::string_view body, std::size_t offset, std::string_view about) {
    return rejected_at(parse_multipart(body, boundary), offset, about);
}

TEST(multipart_parser, a_text_field_and_a_file_part) {
    const std::string body =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"greeting\"\r\n"
        "\r\n"
        "hello world\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "line one\r\nline two\r\n"
        "--XyZ--\r\n";
    const auto result = parse_multipart(body, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 2u);

    EXPECT_EQ(result.parts[0].name, "greeting");
    EXPECT_EQ(result.parts[0].filename, std::nullopt);
    EXPECT_EQ(result.parts[0].content_type, std::nullopt);
    EXPECT_EQ(result.parts[0].body, "hello world");

    EXPECT_EQ(result.parts[1].name, "upload");
    EXPECT_EQ(result.parts[1].filename, "notes.txt");
    EXPECT_EQ(result.parts[1].content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(result.parts[1].body, "line one\r\nline two");
}

TEST(multipart_parser, what_curl_7_88_sends) {
    // Captured from `curl -F 'field=hello world' -F 'we"ird=v' -F 'upload=@up.bin;type=...' -F 'empty='`:
    // the '"' in a name arrives as %22 and stays that way.
    const std::string content_type = "multipart/form-data; boundary=------------------------8988c511118cf174";
    const std::string body =
        "--------------------------8988c511118cf174\r\n"
        "Content-Disposition: form-data; name=\"field\"\r\n\r\nhello world\r\n"
        "--------------------------8988c511118cf174\r\n"
        "Content-Disposition: form-data; name=\"we%22ird\"\r\n\r\nv\r\n"
        "--------------------------8988c511118cf174\r\n"
        "Content-Disposition: form-data; name=\"upload\"; filename=\"up.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
        "file\r\ncontent\n" +
        std::string(1, '\0') +
        "--x\r\n"
        "--------------------------8988c511118cf174\r\n"
        "Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n"
        "--------------------------8988c511118cf174--\r\n";
    const auto extracted = multipart_boundary(content_type);
    ASSERT_EQ(extracted, "------------------------8988c511118cf174");
    const auto result = parse_multipart(body, *extracted);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 4u);
    EXPECT_EQ(result.parts[0].body, "hello world");
    EXPECT_EQ(result.parts[1].name, "we%22ird");
    EXPECT_EQ(result.parts[2].filename, "up.bin");
    EXPECT_EQ(result.parts[2].content_type, "application/octet-stream");
    EXPECT_EQ(result.parts[2].body, "file\r\ncontent\n" + std::string(1, '\0') + "--x");
    EXPECT_EQ(result.parts[3].name, "empty");
    EXPECT_EQ(result.parts[3].body, "");
}

TEST(multipart_parser, binary_bodies_keep_cr_lf_nul_and_dashes_that_are_not_delimiters) {
    // Every near miss of a delimiter: the boundary mid-line, "--" lines with another boundary, lone CRs
    // and LFs, a CRLF right before the delimiter's own CRLF.
    const std::string binary =
        std::string("\0\r\n--\r\n--XY\r\n-- XyZ\r\nabc--XyZ\r\r\n\n\0\xff", 35) + "\r\n";
    const std::string body = part("blob", binary) + close_delimiter;
    const auto result = parse_multipart(body, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 1u);
    EXPECT_EQ(result.parts[0].body, binary);
}

TEST(multipart_parser, a_part_with_an_empty_body) {
    const auto result = parse_multipart(
        part("first", "") + part("second", "x") + part("third", "") + close_delimiter, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 3u);
    EXPECT_EQ(result.parts[0].body, "");
    EXPECT_EQ(result.parts[1].body, "x");
    EXPECT_EQ(result.parts[2].body, "");
}

TEST(multipart_parser, preamble_epilogue_and_transport_padding_are_accepted) {
    const std::string body =
        "This is the preamble, with --XyZ mid-line.\r\n\r\n"
        "--XyZ \t\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
        "1\r\n"
        "--XyZ\t\r\n"
        "Content-Disposition: form-data; name=\"b\"\r\n\r\n"
        "2\r\n"
        "--XyZ-- \r\n"
        "The epilogue: anything at all, a bare LF\n and --XyZ\r\n--XyZ\r\n";
    const auto result = parse_multipart(body, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 2u);
    EXPECT_EQ(result.parts[0].body, "1");
    EXPECT_EQ(result.parts[1].body, "2");

    // The close delimiter may also end the body, with or without padding.
    EXPECT_EQ(parse_multipart(part("a", "1") + "--XyZ--", boundary).error, "");
    EXPECT_EQ(parse_multipart(part("a", "1") + "--XyZ--  ", boundary).error, "");
}

TEST(multipart_parser, names_are_unquoted_and_unescaped_but_never_percent_decoded) {
    const std::string body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\\\"b\\\\c\"\r\n\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"%22%0D%0A\"\r\n\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=token_name\r\n\r\n\r\n"
        "--XyZ\r\ncontent-disposition:FORM-DATA;NAME=\"x\";  FileName=\"\"\r\n\r\n\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"n\"; filename=\"caf\xc3\xa9.txt\"\r\n\r\n\r\n"
        "--XyZ--";
    const auto result = parse_multipart(body, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 5u);
    EXPECT_EQ(result.parts[0].name, "a\"b\\c");  // CURLMIMEOPT_FORMESCAPE's backslashes
    EXPECT_EQ(result.parts[1].name, "%22%0D%0A");
    EXPECT_EQ(result.parts[2].name, "token_name");
    EXPECT_EQ(result.parts[3].name, "x");
    EXPECT_EQ(result.parts[3].filename, "");  // present, if empty
    EXPECT_EQ(result.parts[4].filename, "caf\xc3\xa9.txt");
}

TEST(multipart_parser, every_header_field_is_kept_in_order_with_its_name_lower_cased) {
    const std::string body =
        "--XyZ\r\n"
        "X-First:  one  \r\n"
        "Content-Disposition: form-data; name=\"f\"\r\n"
        "Content-Type:image/png\r\n"
        "X-Empty:\r\n"
        "X-FIRST: again\r\n"
        "\r\n"
        "\r\n--XyZ--\r\n";
    const auto result = parse_multipart(body, boundary);
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.parts.size(), 1u);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"x-first", "one"},
        {"content-disposition", "form-data; name=\"f\""},
        {"content-type", "image/png"},
        {"x-empty", ""},
        {"x-first", "again"},
    };
    EXPECT_EQ(result.parts[0].headers, expected);
    EXPECT_EQ(result.parts[0].content_type, "image/png");
}

TEST(multipart_parser, the_boundary_of_a_content_type) {
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=XyZ"), "XyZ");
    EXPECT_EQ(multipart_boundary("multipart/form-data;boundary=XyZ"), "XyZ");
    EXPECT_EQ(multipart_boundary("Multipart/Form-Data; BOUNDARY=XyZ; charset=utf-8;"), "XyZ");
    EXPECT_EQ(multipart_boundary("  multipart/form-data ; boundary=XyZ  "), "XyZ");
    // Quoted, it may hold the bchars a token cannot: space, '(', ')', ',', '/', ':', '=', '?'.
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a b(c),d/e:f=g?h\""), "a b(c),d/e:f=g?h");
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a\\-b\""), "a-b");
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'b')),
              std::string(70, 'b'));
}

TEST(multipart_parser, a_content_type_without_a_usable_boundary) {
    EXPECT_EQ(multipart_boundary("multipart/form-data"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/mixed; boundary=XyZ"), std::nullopt);
    EXPECT_EQ(multipart_boundary("application/x-www-form-urlencoded; boundary=XyZ"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data-x; boundary=XyZ"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'b')), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"\""), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary="), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"ends in space \""), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=not*a*bchar"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=a; boundary=a"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"unclosed"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary = XyZ"), std::nullopt);
    EXPECT_EQ(multipart_boundary("multipart/form-data boundary=XyZ"), std::nullopt);
    EXPECT_EQ(multipart_boundary(""), std::nullopt);
}

TEST(multipart_parser, an_invalid_boundary_is_refused_before_the_body_is_read) {
    EXPECT_NE(parse_multipart(part("a", "1") + close_delimiter, "").error, "");
    EXPECT_NE(parse_multipart("--" + std::string(71, 'b') + "--", std::string(71, 'b')).error, "");
    EXPECT_NE(parse_multipart("--a \r\n", "a ").error, "");
}

TEST(multipart_parser, a_bare_lf_is_an_error_wherever_a_line_must_end) {
    const std::string first = part("a", "1");
    EXPECT_TRUE(rejected_at("--XyZ\n" + first.substr(7) + close_delimiter, 5, "bare LF"));
    EXPECT_TRUE(rejected_at(
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\n\r\n1\r\n" + close_delimiter, 47, "bare LF"));
    EXPECT_TRUE(rejected_at(
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\n1\r\n" + close_delimiter, 49, "bare LF"));
    EXPECT_TRUE(rejected_at(first + "--XyZ--\n", first.size() + 7, "bare LF"));
    // An LF-only line that starts with the boundary ends the body in a broken delimiter, not in the body.
    EXPECT_TRUE(rejected_at("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\n--XyZ--\r\n", 52,
                            "bare LF"));
    EXPECT_TRUE(rejected_at("preamble\n--XyZ\r\n" + first.substr(7) + close_delimiter, 8, "bare LF"));
}

TEST(multipart_parser, a_missing_close_delimiter_is_an_error) {
    const std::string first = part("a", "1");
    for (const std::string& body : {first, first + "--XyZ\r\n", first + "--XyZ", first + "--XyZ  \r",
                                    first + "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n",
                                    first + "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2",
                                    first.substr(0, first.size() - 2)})
        EXPECT_TRUE(rejected_at(body, body.size(), "without the close delimiter")) << body;
}

TEST(multipart_parser, a_part_without_a_form_data_content_disposition_is_an_error) {
    const std::string first = part("a", "1");
    const std::size_t second_headers = first.size() + 7;
    EXPECT_TRUE(rejected_at(first + "--XyZ\r\nContent-Type: text/plain\r\n\r\n2\r\n" + close_delimiter,
                            second_headers, "part 2 has no Content-Disposition"));
    EXPECT_TRUE(rejected_at(first + "--XyZ\r\n\r\n2\r\n" + close_delimiter, second_headers,
                            "part 2 has no Content-Disposition"));
    EXPECT_TRUE(
        rejected_at("--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n" + close_delimiter, 28,
                    "not form-data"));
    EXPECT_TRUE(
        rejected_at("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n"
                    "Content-Disposition: form-data; name=\"b\"\r\n\r\n1\r\n" +
                        close_delimiter,
                    49, "second Content-Disposition"));
}

TEST(multipart_parser, a_content_disposition_without_a_name_is_an_error) {
    EXPECT_TRUE(rejected_at(
        "--XyZ\r\nContent-Disposition: form-data; filename=\"f.txt\"\r\n\r\n1\r\n" + close_delimiter, 28,
        "no name parameter"));
    EXPECT_TRUE(rejected_at("--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n" + close_delimiter, 28,
                            "no name parameter"));
}

TEST(multipart_parser, a_malformed_content_disposition_is_an_error) {
    const auto with_disposition = [](std::string_view value) {
        return "--XyZ\r\nContent-Disposition: " + std::string(value) + "\r\n\r\n1\r\n" + close_delimiter;
    };
    constexpr std::size_t value_at = 28;
    EXPECT_TRUE(rejected_at(with_disposition("form-data; name=\"a"), value_at + 18, "not closed"));
    EXPECT_TRUE(rejected_at(with_disposition("form-data; name=\"a\"; NAME=\"b\""), value_at + 21, "twice"));
    EXPECT_TRUE(rejected_at(with_disposition("form-data; name = \"a\""), value_at + 15, "expected '='"));
    EXPECT_TRUE(rejected_at(with_disposition("form-data;; name=\"a\""), value_at + 10, "parameter name"));
    EXPECT_TRUE(rejected_at(with_disposition("form-data; name=\"a\" x"), value_at + 20, "expected ';'"));
    EXPECT_TRUE(rejected_at(with_disposition("form-data; name=a b"), value_at + 18, "expected ';'"));
}

TEST(multipart_parser, a_folded_header_line_is_an_error) {
    const std::string body =
        "--XyZ\r\n"
        "Content-Disposition: form-data;\r\n"
        " name=\"a\"\r\n"
        "\r\n1\r\n" +
        close_delimiter;
    EXPECT_TRUE(rejected_at(body, 40, "obs-fold"));
    EXPECT_TRUE(rejected_at(
        "--XyZ\r\n\tX-Lead: tab\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" + close_delimiter,
        7, "obs-fold"));
}

TEST(multipart_parser, malformed_header_lines_are_errors) {
    const auto with_field = [](std::string_view field) {
        return "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n" + std::string(field) +
               "\r\n\r\n1\r\n" + close_delimiter;
    };
    constexpr std::size_t field_at = 49;
    EXPECT_TRUE(rejected_at(with_field("No-Colon"), field_at + 8, "expected ':'"));
    EXPECT_TRUE(rejected_at(with_field("Space-Before-Colon : x"), field_at + 18, "expected ':'"));
    EXPECT_TRUE(rejected_at(with_field(": no name"), field_at, "field name"));
    EXPECT_TRUE(rejected_at(with_field("Bad(Name): x"), field_at + 3, "expected ':'"));
    EXPECT_TRUE(rejected_at(with_field("X-Cr: a\rb"), field_at + 7, "CR without LF"));
    EXPECT_TRUE(rejected_at(with_field(std::string("X-Nul: a\0b", 10)), field_at + 8, "0x00"));
    EXPECT_TRUE(rejected_at(with_field("Content-Type: text"), field_at + 18, "expected '/'"));
    EXPECT_TRUE(rejected_at(with_field("Content-Type: a/b\r\nContent-Type: a/b"), field_at + 19,
                            "second Content-Type"));
}

TEST(multipart_parser, the_headers_must_end_in_an_empty_line_before_the_next_delimiter) {
    const std::string header = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n";
    EXPECT_TRUE(rejected_at(header + close_delimiter, header.size(), "no empty line"));
    // RFC 2046 would read this as a part with no body; a form part always has one, if empty.
    EXPECT_TRUE(rejected_at(header + "\r\n" + close_delimiter, header.size() + 2, "directly follows"));
}

TEST(multipart_parser, zero_parts_is_an_error) {
    EXPECT_TRUE(rejected_at("--XyZ--\r\n", 0, "zero parts"));
    EXPECT_TRUE(rejected_at("preamble\r\n--XyZ--\r\n", 10, "zero parts"));
    EXPECT_TRUE(rejected_at("", 0, "no parts"));
    EXPECT_TRUE(rejected_at("just text\r\n", 11, "no parts"));
    // The boundary mid-line is not a delimiter, so none was found.
    const std::string mid_line = "text --XyZ\r\nmore --XyZ--\r\n";
    EXPECT_TRUE(rejected_at(mid_line, mid_line.size(), "no parts"));
    // And "--XyZ2" is another boundary's delimiter, not XyZ's with garbage after.
    EXPECT_TRUE(rejected_at("--XyZ2\r\n", 5, "after a delimiter"));
}

TEST(multipart_parser, only_padding_may_follow_a_delimiter) {
    const std::string first = part("a", "1");
    EXPECT_TRUE(rejected_at("--XyZX\r\n" + first.substr(7) + close_delimiter, 5, "'X' after a delimiter"));
    EXPECT_TRUE(rejected_at("--XyZ  x\r\n" + first.substr(7) + close_delimiter, 7, "'x' after a delimiter"));
    EXPECT_TRUE(rejected_at(first + "--XyZ-\r\n", first.size() + 5, "'-' after a delimiter"));
    EXPECT_TRUE(rejected_at(first + "--XyZ\r\r\n", first.size() + 5, "0x0D after a delimiter"));
    EXPECT_TRUE(rejected_at(first + "--XyZ--x", first.size() + 7, "after the close delimiter"));
    EXPECT_TRUE(rejected_at(first + "--XyZ-- --\r\n", first.size() + 8, "after the close delimiter"));
    // A body line that starts with the boundary is a delimiter, so what follows it must fit one.
    const std::string early = part("a", "1\r\n--XyZ and more") + close_delimiter;
    EXPECT_TRUE(rejected_at(early, early.find("and"), "'a' after a delimiter"));
}

TEST(multipart_parser, on_error_the_parts_completed_before_it_are_kept) {
    const auto result = parse_multipart(part("a", "1") + part("b", "2") + "--XyZ\r\n\r\n", boundary);
    ASSERT_NE(result.error, "");
    ASSERT_EQ(result.parts.size(), 2u);
    EXPECT_EQ(result.parts[1].body, "2");
}

}  // namespace
}  // namespace asiocurl::test

// The http layer's pure parts, without a transfer: the response head's lines as curl's header callback hands
// them over, the request's URL, its refusals, and when a handle's earlier options may be kept. The fuzz
// target (test/fuzz) checks the same functions for crashes and properties; the inputs it found live here.
#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/easy.hpp>
#include <asiocurl/http/detail/request_options.hpp>

#include <gtest/gtest.h>

#include <curl/curl.h>

#include <boost/beast/http/empty_body.hpp>

#include <memory>
#include <string>
#include <vector>

namespace asiocurl::http::detail {
namespace {

using kind = head_line::kind;

TEST(head_line, a_status_line_gives_version_status_and_reason) {
    const auto line = parse_head_line("HTTP/1.1 404 Not Found\r\n");
    EXPECT_EQ(line.what, kind::status);
    EXPECT_EQ(line.version, 11u);
    EXPECT_EQ(line.status, 404u);
    EXPECT_EQ(line.reason, "Not Found");
    EXPECT_EQ(parse_head_line("HTTP/2 200\r\n").version, 20u);
    EXPECT_EQ(parse_head_line("HTTP/2 200\r\n").status, 200u);
    EXPECT_EQ(parse_head_line("HTTP/1.0 301 Moved\n").version, 10u);
}

// Found by the fuzzer: "0200" was read as status 20, a value no response can have.
TEST(head_line, a_status_that_is_not_three_digits_is_zero) {
    for (const char* raw :
         {"HTTP/1.1 0200 OK\r\n", "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 20 OK\r\n", "HTTP/1.1 2x0 OK\r\n",
          "HTTP/1.1\r\n", "HTTP/.1 0200 OK\r\n", "HTTP/1.1 099\r\n"}) {
        const auto line = parse_head_line(raw);
        EXPECT_EQ(line.what, kind::status) << raw;
        EXPECT_EQ(line.status, 0u) << raw;
    }
    EXPECT_EQ(parse_head_line("HTTP/1.1 999\r\n").status, 999u);
}

TEST(head_line, a_field_is_trimmed_and_junk_is_other) {
    const auto field = parse_head_line("Content-Type: \t text/plain \t\r\n");
    EXPECT_EQ(field.what, kind::field);
    EXPECT_EQ(field.name, "Content-Type");
    EXPECT_EQ(field.value, "text/plain");
    EXPECT_EQ(parse_head_line("X-Empty:\r\n").value, "");
    EXPECT_EQ(parse_head_line("\r\n").what, kind::end);
    EXPECT_EQ(parse_head_line("\n").what, kind::end);
    EXPECT_EQ(parse_head_line(": no name\r\n").what, kind::other);
    EXPECT_EQ(parse_head_line("no colon\r\n").what, kind::other);
}

// field_of answers from a per-thread table of names seen before; whatever it holds, its answer is Beast's.
TEST(head_line, a_fields_name_is_the_field_beast_would_find) {
    namespace bhttp = boost::beast::http;
    const std::vector<std::string> names = {
        "Content-Type", "content-type", "CONTENT-TYPE", "Date", "ETag", "Server", "Content-Length",
        "Last-Modified", "Connection", "Accept-Ranges", "X-Custom", "x-custom", "Set-Cookie", "Location",
        "WWW-Authenticate", "Retry-After", "Vary", "Via", "Age", "A", "Z",
        // Longer than the table keeps, and a name of the same length and ends as a known one.
        "X-A-Header-Name-Longer-Than-Thirty-One-Characters", "Content-Typf", "Dbte"};
    for (int round = 0; round < 3; ++round)  // first seen, then found in the table, then again after others
        for (const auto& name : names)
            EXPECT_EQ(field_of(name), bhttp::string_to_field(name)) << name << " round " << round;
    EXPECT_EQ(field_of("Content-Type"), bhttp::field::content_type);
    EXPECT_EQ(field_of("content-type"), bhttp::field::content_type);
    EXPECT_EQ(field_of("X-Custom"), bhttp::field::unknown);
    EXPECT_EQ(field_of(""), bhttp::field::unknown);
}

// Fields arrive in Beast's own order and case, under the field Beast would give them.
TEST(head_line, added_fields_keep_their_spelling_order_and_field) {
    namespace bhttp = boost::beast::http;
    bhttp::response<bhttp::empty_body> head;
    add_field(head, "content-type", "text/plain");
    add_field(head, "Set-Cookie", "a=1");
    add_field(head, "X-Custom", "x");
    add_field(head, "set-cookie", "b=2");
    std::vector<std::string> seen;
    for (const auto& field : head)
        seen.push_back(std::string(field.name_string()) + "=" + std::string(field.value()));
    EXPECT_EQ(seen, (std::vector<std::string>{"content-type=text/plain", "Set-Cookie=a=1", "set-cookie=b=2",
                                              "X-Custom=x"}));
    EXPECT_EQ(head[bhttp::field::content_type], "text/plain");
    EXPECT_EQ(head.count(bhttp::field::set_cookie), 2u);
    EXPECT_EQ(head["x-custom"], "x");
}

TEST(head_line, only_the_redirects_curl_follows_continue_the_exchange) {
    for (unsigned status : {301u, 302u, 303u, 307u, 308u}) {
        EXPECT_TRUE(is_followed_redirect(status, true, true)) << status;
        EXPECT_FALSE(is_followed_redirect(status, false, true)) << status;
        EXPECT_FALSE(is_followed_redirect(status, true, false)) << status;
    }
    EXPECT_FALSE(is_followed_redirect(300, true, true));
    EXPECT_FALSE(is_followed_redirect(304, true, true));
    EXPECT_FALSE(is_followed_redirect(200, true, true));
}

request_view get(std::string_view target) {
    request_view r;
    r.method = "GET";
    r.target = target;
    return r;
}

TEST(request_url, origin_form_joins_the_base_and_absolute_form_stands_alone) {
    options opts;
    opts.base_url = "http://127.0.0.1:8080/";
    std::string url;
    EXPECT_FALSE(build_url(get("/a?b=c"), opts, url));
    EXPECT_EQ(url, "http://127.0.0.1:8080/a?b=c");
    EXPECT_FALSE(build_url(get("https://[::1]:9/x"), opts, url));
    EXPECT_EQ(url, "https://[::1]:9/x");
    opts.base_url.clear();
    EXPECT_EQ(build_url(get("/a"), opts, url), make_error_code(errc::no_url));
}

TEST(request_url, line_breaks_and_bad_methods_are_refused) {
    options opts;
    opts.base_url = "http://127.0.0.1:8080";
    std::string url;
    EXPECT_EQ(build_url(get("/a\r\nX: y"), opts, url), make_error_code(errc::header_injection));
    auto r = get("/a");
    r.method = "GE T";
    EXPECT_EQ(build_url(r, opts, url), make_error_code(errc::header_injection));
    r.method = "";
    EXPECT_EQ(build_url(r, opts, url), make_error_code(errc::header_injection));
}

struct curl_handle {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle{curl_easy_init(), &curl_easy_cleanup};
    curl_slist* headers = nullptr;
    ~curl_handle() { curl_slist_free_all(headers); }
};

TEST(request_options, header_injection_is_refused_and_curl_managed_fields_dropped) {
    options opts;
    opts.base_url = "http://127.0.0.1:9";
    {
        curl_handle h;
        auto r = get("/");
        r.fields = {{"X-Ok", "1"}, {"Host", "elsewhere"}, {"Connection", "close"}, {"X-Empty", ""}};
        ASSERT_FALSE(apply_request_options(h.handle.get(), r, opts, h.headers));
        std::vector<std::string> lines;
        for (auto* item = h.headers; item; item = item->next)
            lines.emplace_back(item->data);
        EXPECT_EQ(lines, (std::vector<std::string>{"X-Ok: 1", "X-Empty;"}));
    }
    {
        // Found by the fuzzer (UBSan): an empty value may be a view with no data at all, which the
        // line-break check must not hand to memchr.
        curl_handle h;
        auto r = get("/");
        r.fields = {{"X-None", std::string_view()}};
        ASSERT_FALSE(apply_request_options(h.handle.get(), r, opts, h.headers));
        ASSERT_NE(h.headers, nullptr);
        EXPECT_STREQ(h.headers->data, "X-None;");
    }
    for (auto field : {std::pair<std::string_view, std::string_view>{"X-Bad", "a\r\nInjected: 1"},
                       {"X-Bad", std::string_view("a\0b", 3)},
                       {"Bad Name", "v"},
                       {"", "v"}}) {
        curl_handle h;
        auto r = get("/");
        r.fields = {field};
        EXPECT_EQ(apply_request_options(h.handle.get(), r, opts, h.headers),
                  make_error_code(errc::header_injection))
            << field.first;
    }
}

// What the handle's CURLU holds, as curl would send it.
std::string parsed_url_of(const asiocurl::detail::easy_state& state) {
    char* text = nullptr;
    EXPECT_EQ(curl_url_get(state.parsed_url.get(), CURLUPART_URL, &text, 0), CURLUE_OK);
    std::string url = text ? text : "";
    curl_free(text);
    return url;
}

// The URL goes to curl as a CURLU parsed once per handle and URL: a second exchange asking for the same URL
// parses nothing, another URL is parsed again, a refused one leaves nothing behind, and with customize (which
// may set CURLOPT_URL itself) the URL is a plain string again.
TEST(request_options, a_handle_parses_its_url_once_and_again_only_when_it_changes) {
    options opts;
    opts.base_url = "http://127.0.0.1:9";
    curl_handle h;
    asiocurl::detail::easy_state state;
    const auto url_of = [&] { return parsed_url_of(state); };
    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/a"), opts, h.headers, &state));
    ASSERT_TRUE(state.parsed_url);
    CURLU* const parsed = state.parsed_url.get();
    EXPECT_EQ(state.parsed_url_text, "http://127.0.0.1:9/a");
    EXPECT_EQ(url_of(), "http://127.0.0.1:9/a");

    curl_url_set(parsed, CURLUPART_PATH, "/changed-behind-its-back", 0);
    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/a"), opts, h.headers, &state));
    EXPECT_EQ(url_of(), "http://127.0.0.1:9/changed-behind-its-back") << "the same URL is not parsed again";

    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/b?q=1"), opts, h.headers, &state));
    EXPECT_EQ(state.parsed_url.get(), parsed) << "one CURLU per handle";
    EXPECT_EQ(url_of(), "http://127.0.0.1:9/b?q=1");

    EXPECT_EQ(apply_request_target(h.handle.get(), get("http://[::1/x"), opts, h.headers, &state),
              make_error_code(CURLE_URL_MALFORMAT));
    EXPECT_TRUE(state.parsed_url_text.empty());
    EXPECT_EQ(std::string(state.error_buffer).rfind("URL rejected: ", 0), 0u) << state.error_buffer;
    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/b?q=1"), opts, h.headers, &state));
    EXPECT_EQ(state.parsed_url_text, "http://127.0.0.1:9/b?q=1") << "parsed again after a refusal";

    opts.customize = [](easy&) {};
    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/c"), opts, h.headers, &state));
    EXPECT_TRUE(state.parsed_url_text.empty()) << "customize: CURLOPT_URL, and no CURLU above it";
    ASSERT_FALSE(
        apply_request_target(h.handle.get(), get("/c"), {.base_url = opts.base_url}, h.headers, &state));
    EXPECT_EQ(url_of(), "http://127.0.0.1:9/c");
}

// curl_url_set reads a URL without a scheme relative to the URL the CURLU holds: the handle's CURLU is
// cleared before each new URL, so "127.0.0.1:7/b" is that host, not a path under the last URL.
TEST(request_options, a_url_without_a_scheme_is_not_read_relative_to_the_last_one) {
    curl_handle h;
    asiocurl::detail::easy_state state;
    const auto url_of = [&] { return parsed_url_of(state); };
    ASSERT_FALSE(apply_request_target(h.handle.get(), get("/first/page"), {.base_url = "http://127.0.0.1:9"},
                                      h.headers, &state));
    ASSERT_FALSE(
        apply_request_target(h.handle.get(), get("/b"), {.base_url = "127.0.0.1:7"}, h.headers, &state));
    EXPECT_EQ(url_of(), "http://127.0.0.1:7/b");
    // Nor after a refusal, which leaves the CURLU as it was.
    ASSERT_TRUE(apply_request_target(h.handle.get(), get("http://[::1/x"), {}, h.headers, &state));
    ASSERT_FALSE(
        apply_request_target(h.handle.get(), get("/c"), {.base_url = "127.0.0.1:8"}, h.headers, &state));
    EXPECT_EQ(url_of(), "http://127.0.0.1:8/c");
}

TEST(request_options, a_kept_setup_matches_only_the_same_plain_options) {
    options opts;
    opts.base_url = "http://127.0.0.1:9";
    const auto r = get("/");
    ASSERT_TRUE(reusable_setup::applies(r, opts));
    const reusable_setup kept(r, opts);
    EXPECT_TRUE(kept.matches(r, opts));
    EXPECT_TRUE(kept.matches(get("/other"), opts));  // the target is set every time

    auto other = opts;
    other.timeout = std::chrono::milliseconds(5);
    EXPECT_FALSE(kept.matches(r, other));
    other = opts;
    other.tls.verify_peer = false;
    EXPECT_FALSE(kept.matches(r, other));
    other = opts;
    other.user_agent = "x";
    EXPECT_FALSE(kept.matches(r, other));
    auto head = r;
    head.method = "HEAD";
    EXPECT_FALSE(kept.matches(head, opts));
    EXPECT_FALSE(kept.matches(get("https://127.0.0.1:9/"), opts));  // PIPEWAIT depends on the scheme

    auto with_body = r;
    with_body.has_body = true;
    EXPECT_FALSE(reusable_setup::applies(with_body, opts));
    other = opts;
    other.customize = [](easy&) {};
    EXPECT_FALSE(reusable_setup::applies(r, other));
}

}  // namespace
}  // namespace asiocurl::http::detail

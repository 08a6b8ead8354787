// What a request is made of, without a server: URLs built from parts and refused with their offset, form
// bodies, the multipart part list, and the checks of the options curl would silently ignore.
#include <asiocurl/http/detail/connection_options.hpp>
#include <asiocurl/http/form.hpp>
#include <asiocurl/http/multipart.hpp>
#include <asiocurl/http/url.hpp>

#include <gtest/gtest.h>
#include <boost/url/params_encoded_view.hpp>
#include <boost/url/parse.hpp>

#include <ranges>
#include <string>
#include <vector>

namespace asiocurl {
namespace {

namespace bhttp = boost::beast::http;

TEST(url, segments_and_parameters_are_data) {
    auto url = http::make_url("https://api.example.com/v1/", {"users", "a/b c", "x?y#z"},
                              {{"q", "v&w=x y+z#"}, {"empty", ""}, {"ü", "%"}});
    ASSERT_TRUE(url) << url.error().message();
    EXPECT_EQ(
        url->buffer(),
        "https://api.example.com/v1/users/a%2Fb%20c/x%3Fy%23z?q=v%26w%3Dx%20y%2Bz%23&empty=&%C3%BC=%25");
    // Read back by a parser, each comes out as it went in.
    std::vector<std::string> segments(url->segments().begin(), url->segments().end());
    EXPECT_EQ(segments, (std::vector<std::string>{"v1", "users", "a/b c", "x?y#z"}));
    auto params = url->params();
    ASSERT_EQ(params.size(), 3u);
    EXPECT_EQ((*params.begin()).value, "v&w=x y+z#");
    EXPECT_EQ((*params.find("ü")).value, "%");
}

TEST(url, a_base_keeps_its_query_and_loses_its_fragment) {
    auto url = http::make_url("http://h:8080/base?key=1#frag", {"more"}, {{"page", "2"}});
    ASSERT_TRUE(url);
    EXPECT_EQ(url->buffer(), "http://h:8080/base/more?key=1&page=2");
}

TEST(url, a_target_in_origin_form_and_a_name_without_value) {
    auto url = http::make_url("/v1", {"items", "42"}, {{"verbose", boost::urls::no_value}});
    ASSERT_TRUE(url);
    EXPECT_EQ(url->buffer(), "/v1/items/42?verbose");
    auto bare = http::make_url("http://h", {"x"});
    ASSERT_TRUE(bare);
    EXPECT_EQ(bare->buffer(), "http://h/x");
}

TEST(url, a_target_never_begins_with_an_authority) {
    // "//evil.example/x" as a request target would name a host: an empty first segment is refused there.
    EXPECT_FALSE(http::make_url("/", {"", "evil.example", "x"}));
    auto absolute = http::make_url("http://h/", {"", "x"});
    ASSERT_TRUE(absolute);
    EXPECT_EQ(absolute->buffer(), "http://h//x");
    // A dot segment would step through the server's directories, encoded or not.
    EXPECT_FALSE(http::make_url("/v1/", {".."}));
    EXPECT_FALSE(http::make_url("/v1/", {"a", "."}));
    EXPECT_EQ(http::make_url("/v1/", {"...", ".x"})->buffer(), "/v1/.../.x");
}

TEST(url, containers_and_ranges_that_make_their_elements) {
    const std::vector<int> ids = {7, 42};
    auto as_text = ids | std::views::transform([](int id) { return std::to_string(id); });
    const std::vector<http::query_param> query = {{"a", "1"}, {"flag", boost::urls::no_value}};
    auto url = http::make_url("http://h/items", as_text, query);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->buffer(), "http://h/items/7/42?a=1&flag");
}

TEST(url, a_malformed_one_is_refused_with_its_offset) {
    struct bad {
        std::string_view text;
        std::size_t position;
    };
    for (const auto& [text, position] :
         {bad{"http://a.b/c d", 12}, bad{"http://[::1/x", 11}, bad{"http://a b/", 8}, bad{"/p q", 2},
          bad{"http:///path", 7}, bad{"http://h/%zz", 10}}) {
        auto parsed = http::parse_url(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().position, position) << text;
        EXPECT_NE(parsed.error().message().find("offset " + std::to_string(position)), std::string::npos);
        EXPECT_EQ(http::detail::malformed_url_position(text), position) << text;
    }
    EXPECT_FALSE(http::parse_url("mailto:someone@example.com")) << "no host";
    ASSERT_FALSE(http::parse_url("http://[::1].")) << "a path after an authority begins with '/'";
    EXPECT_EQ(http::parse_url("http://[::1].").error().position, 12u);
    EXPECT_FALSE(http::detail::malformed_url_position("https://example.com/fine?q=1"));
}

TEST(url, value_of_a_refusal_throws_bad_url_with_the_offset) {
    try {
        (void)http::make_url("http://bad host/", {"x"}).value();
        FAIL() << "no exception";
    } catch (const http::bad_url& e) {
        EXPECT_EQ(e.position(), 10u);
        EXPECT_NE(std::string(e.what()).find("offset 10"), std::string::npos);
        EXPECT_EQ(std::string(e.what()).find("bad host"), std::string::npos) << "the URL is not shown";
    }
}

TEST(url, url_ref_takes_text_and_boost_urls) {
    const std::string text = "http://h/a";
    const boost::urls::url built = http::make_url("http://h", {"b"}).value();
    EXPECT_EQ(http::url_ref("http://h/lit").text(), "http://h/lit");
    EXPECT_EQ(http::url_ref(text).text(), text);
    EXPECT_EQ(http::url_ref(built).text(), "http://h/b");
    EXPECT_EQ(http::url_ref(boost::urls::url_view(built)).text(), "http://h/b");
    EXPECT_EQ(http::url_ref(built.encoded_resource()).text(), "/b");
    EXPECT_EQ(http::url_ref(built.buffer()).text(), "http://h/b");
    EXPECT_EQ(http::url_ref(static_cast<const char*>(nullptr)).text(), "");
}

TEST(form, encodes_as_the_whatwg_serializer) {
    http::url_encoded_form form{{"name", "Ada Lovelace"}, {"a&b", "c=d+e"}, {"*-._~", "é/?"}};
    EXPECT_EQ(form.encoded(), "name=Ada+Lovelace&a%26b=c%3Dd%2Be&*-._%7E=%C3%A9%2F%3F");
    form.add("", "");
    EXPECT_EQ(form.encoded().substr(form.encoded().size() - 2), "&=");
    auto request = http::form_request("/login", form);
    EXPECT_EQ(request.method(), bhttp::verb::post);
    EXPECT_EQ(request[bhttp::field::content_type], "application/x-www-form-urlencoded");
    EXPECT_EQ(request[bhttp::field::content_length], std::to_string(form.encoded().size()));
    // Boost.URL's form-aware decoding reads every pair back.
    const http::url_encoded_form decoded{{"x y", "1+1=2&3"}};
    const boost::urls::params_encoded_view params(decoded.encoded());
    ASSERT_EQ(params.size(), 1u);
    boost::urls::encoding_opts plus_is_space;
    plus_is_space.space_as_plus = true;
    const auto first = *params.begin();
    EXPECT_EQ(first.key.decode(plus_is_space), "x y");
    EXPECT_EQ(first.value.decode(plus_is_space), "1+1=2&3");
}

TEST(multipart, a_streamed_part_makes_it_unreplayable) {
    http::multipart parts;
    parts.add_text("a", "1").add_file("f", "f.txt", "bytes", "text/plain");
    EXPECT_TRUE(parts.replayable());
    EXPECT_EQ(parts.parts().size(), 2u);
    EXPECT_EQ(parts.parts()[1].filename, "f.txt");
    parts.add_stream("s", [](char*, std::size_t) { return std::size_t{0}; });
    EXPECT_FALSE(parts.replayable());
    bhttp::request<http::multipart_body> request;
    request.body() = parts;
    EXPECT_FALSE(http::detail::body_replayable(request));
}

TEST(connection_options, malformed_resolve_entries_are_refused) {
    using http::detail::valid_resolve_entry;
    for (const char* good : {"example.test:443:127.0.0.1", "example.test:80:127.0.0.1,::1",
                             "example.test:80:[::1],127.0.0.2", "+h:1:10.0.0.1", "-h:443"})
        EXPECT_TRUE(valid_resolve_entry(good)) << good;
    for (const char* bad : {"", "example.test", "example.test:443", "example.test:443:", "h:0:127.0.0.1",
                            "h:65536:127.0.0.1", "h:http:127.0.0.1", "h:80:localhost", "h:80:127.0.0.1,",
                            ":80:127.0.0.1", "-h", "h:80:127.0.0.1\r\nX: y", "[::1]:80:::1", "-[::1]:80"})
        EXPECT_FALSE(valid_resolve_entry(bad)) << bad;
}

TEST(connection_options, malformed_connect_to_entries_are_refused) {
    using http::detail::valid_connect_to_entry;
    for (const char* good : {"example.test:443:127.0.0.1:8443",
                             "::127.0.0.1:", "example.test::backend:", "[::1]:80:[::1]:8080", ":::"})
        EXPECT_TRUE(valid_connect_to_entry(good)) << good;
    for (const char* bad : {"", "a:1:b", "a:1:b:2:3", "a:x:b:1", "a:1:b:99999", "a:1:b:2\n"})
        EXPECT_FALSE(valid_connect_to_entry(bad)) << bad;
}

TEST(connection_options, only_a_request_that_asks_sets_them) {
    http::options plain;
    EXPECT_FALSE(http::detail::has_connection_options(plain));
    for (auto change : std::vector<void (*)(http::options&)>{
             [](http::options& o) { o.auth = http::basic_auth("u", "p"); },
             [](http::options& o) { o.proxy_auth = http::basic_auth("u", "p"); },
             [](http::options& o) { o.no_proxy = "*"; },
             [](http::options& o) { o.resolve = {"h:1:127.0.0.1"}; },
             [](http::options& o) { o.connect_to = {"h:1:h:2"}; },
             [](http::options& o) { o.unix_socket_path = "/s"; },
             [](http::options& o) { o.ip = http::ip_version::v6; },
             [](http::options& o) { o.local_interface = "lo"; },
             [](http::options& o) { o.local_port = 40000; },
             [](http::options& o) {
                 o.low_speed = {1, std::chrono::seconds(1)};
             },
             [](http::options& o) { o.tls.ca_pem = "x"; },
             [](http::options& o) { o.tls.key_password = "x"; },
         }) {
        http::options changed;
        change(changed);
        EXPECT_TRUE(http::detail::has_connection_options(changed));
    }
}

TEST(connection_options, misuse_is_refused_with_a_reason_and_no_secret) {
    CURL* handle = curl_easy_init();
    ASSERT_NE(handle, nullptr);
    char error[CURL_ERROR_SIZE] = {};
    auto refusal = [&](http::options o) {
        http::detail::connection_lists lists;
        error[0] = '\0';
        const error_code ec = http::detail::apply_connection_options(handle, o, lists, error);
        lists.release(handle);
        return std::make_pair(ec, std::string(error));
    };
    const auto [resolve_ec, resolve_why] = refusal({.resolve = {"ok.test:80:127.0.0.1", "broken"}});
    EXPECT_EQ(resolve_ec, errc::invalid_argument);
    EXPECT_NE(resolve_why.find("options::resolve entry 1"), std::string::npos) << resolve_why;
    const auto [proxy_ec, proxy_why] = refusal({.proxy_auth = http::bearer_auth("s3cret-token")});
    EXPECT_EQ(proxy_ec, errc::invalid_argument);
    EXPECT_EQ(proxy_why.find("s3cret"), std::string::npos);
    const auto [crlf_ec, crlf_why] = refusal({.auth = http::basic_auth("user", "pass\r\nX-Injected: 1")});
    EXPECT_EQ(crlf_ec, errc::invalid_argument);
    EXPECT_EQ(crlf_why.find("pass"), std::string::npos);
    EXPECT_EQ(refusal({.auth = http::aws_sigv4_auth("AK", "SK", "")}).first, errc::invalid_argument);
    EXPECT_EQ(refusal({.low_speed = {100, std::chrono::seconds(0)}}).first, errc::invalid_argument);
    EXPECT_FALSE(refusal({.resolve = {"ok.test:80:127.0.0.1"}, .connect_to = {"a:1:b:2"}}).first);
    curl_easy_cleanup(handle);
}

}  // namespace
}  // namespace asiocurl

// fetch_error's text: curl's detail and a URL without what may be a secret.
#include <asiocurl/http/fetch_error.hpp>

#include <gtest/gtest.h>

namespace asiocurl::http {
namespace {

TEST(fetch_error, credentials_query_and_fragment_are_left_out_of_the_url) {
    EXPECT_EQ(detail::redacted_url("https://u:p@example.test:8443/a/b?key=1#top"),
              "https://example.test:8443/a/b?...");
    EXPECT_EQ(detail::redacted_url("http://token@h/p"), "http://h/p");
    EXPECT_EQ(detail::redacted_url("http://a@b:c@[::1]:80/"),
              "http://[::1]:80/");  // the last '@' ends userinfo
    EXPECT_EQ(detail::redacted_url("http://h/p#frag"), "http://h/p#...");
    EXPECT_EQ(detail::redacted_url("http://h/mail@box"), "http://h/mail@box");  // an '@' in the path stays
    EXPECT_EQ(detail::redacted_url("http://h?a@b"), "http://h?...");
    EXPECT_EQ(detail::redacted_url(""), "");
}

TEST(fetch_error, what_reads_url_then_curls_detail_then_the_code) {
    const fetch_error e(make_error_code(CURLE_COULDNT_CONNECT), "Failed to connect to h port 9",
                        "http://u:pw@h:9/x?q");
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("http://h:9/x?...: Failed to connect to h port 9: ", 0), 0u) << what;
    EXPECT_NE(what.find("[curl:7"), std::string::npos) << what;
    EXPECT_EQ(what.find("pw"), std::string::npos);
    EXPECT_EQ(e.code(), make_error_code(CURLE_COULDNT_CONNECT));
    EXPECT_EQ(e.curl_message(), "Failed to connect to h port 9");

    const fetch_error no_url(errc::no_url, "", "");
    EXPECT_TRUE(no_url.url().empty());
    EXPECT_EQ(std::string(no_url.what()).rfind(no_url.code().message(), 0), 0u) << no_url.what();
}

}  // namespace
}  // namespace asiocurl::http

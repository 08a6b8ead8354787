// Error categories and the easy handle: no network.
#include <asiocurl/easy.hpp>
#include <asiocurl/error.hpp>

#include <gtest/gtest.h>

#include <string>

namespace asiocurl {
namespace {

TEST(errors, curl_codes_carry_curls_own_messages) {
    const error_code ec = make_error_code(CURLE_COULDNT_CONNECT);
    EXPECT_EQ(ec.category(), curl_category());
    EXPECT_EQ(ec.message(), curl_easy_strerror(CURLE_COULDNT_CONNECT));
    EXPECT_EQ(make_error_code(CURLM_BAD_SOCKET).message(), curl_multi_strerror(CURLM_BAD_SOCKET));
    EXPECT_EQ(make_error_code(CURLSHE_IN_USE).message(), curl_share_strerror(CURLSHE_IN_USE));
    EXPECT_STREQ(curl_category().name(), "curl");
}

TEST(errors, conditions_group_curl_codes) {
    EXPECT_EQ(make_error_code(CURLE_OPERATION_TIMEDOUT), condition::timed_out);
    EXPECT_EQ(make_error_code(CURLE_COULDNT_CONNECT), condition::connect_failed);
    EXPECT_EQ(make_error_code(CURLE_COULDNT_RESOLVE_HOST), condition::resolve_failed);
    EXPECT_EQ(make_error_code(CURLE_COULDNT_RESOLVE_PROXY), condition::resolve_failed);
    EXPECT_EQ(make_error_code(CURLE_PEER_FAILED_VERIFICATION), condition::tls_failed);
    EXPECT_EQ(make_error_code(CURLE_SSL_CONNECT_ERROR), condition::tls_failed);
    EXPECT_EQ(make_error_code(CURLE_SSL_CACERT_BADFILE), condition::tls_failed);
    EXPECT_EQ(make_error_code(CURLE_FILESIZE_EXCEEDED), condition::too_large);
    // Codes of curl 8.x, by number so that this compiles against 7.88's headers: CURLE_TOO_LARGE (8.6),
    // CURLE_ECH_REQUIRED (8.8).
    EXPECT_EQ(error_code(100, curl_category()), condition::too_large);
    EXPECT_EQ(error_code(101, curl_category()), condition::tls_failed);
    EXPECT_NE(error_code(100, curl_category()), condition::tls_failed);
    EXPECT_NE(make_error_code(CURLE_OUT_OF_MEMORY), condition::too_large);
    EXPECT_EQ(make_error_code(CURLE_ABORTED_BY_CALLBACK), condition::aborted_by_callback);
    EXPECT_EQ(make_error_code(CURLE_WRITE_ERROR), condition::aborted_by_callback);
    EXPECT_EQ(make_error_code(CURLE_PARTIAL_FILE), condition::partial_body);
    EXPECT_EQ(make_error_code(CURLE_RECV_ERROR), condition::receive_failed);
    EXPECT_EQ(make_error_code(CURLE_SEND_ERROR), condition::send_failed);
    EXPECT_EQ(make_error_code(CURLE_URL_MALFORMAT), condition::bad_url);
    EXPECT_EQ(make_error_code(CURLE_UNSUPPORTED_PROTOCOL), condition::protocol_refused);
    EXPECT_EQ(make_error_code(CURLE_TOO_MANY_REDIRECTS), condition::too_many_redirects);
    EXPECT_NE(make_error_code(CURLE_COULDNT_CONNECT), condition::timed_out);
    EXPECT_NE(make_error_code(CURLE_OPERATION_TIMEDOUT), condition::tls_failed);
    // A multi code with the same number is not a transfer timeout.
    EXPECT_NE(error_code(CURLE_OPERATION_TIMEDOUT, multi_category()), condition::timed_out);
}

TEST(errors, library_errors_are_an_error_code_enum) {
    const error_code ec = errc::easy_in_use;
    EXPECT_EQ(ec.category(), library_category());
    EXPECT_FALSE(ec.message().empty());
}

TEST(easy, sets_options_by_their_type) {
    easy handle;
    error_code ec;
    handle.set(CURLOPT_URL, "http://127.0.0.1/", ec);
    EXPECT_FALSE(ec);
    handle.set(CURLOPT_URL, std::string("http://127.0.0.1/x"), ec);
    EXPECT_FALSE(ec);
    handle.set(CURLOPT_TIMEOUT_MS, 1500, ec);
    EXPECT_FALSE(ec);
    handle.set(CURLOPT_MAXFILESIZE_LARGE, curl_off_t{1} << 40, ec);
    EXPECT_FALSE(ec);
    handle.set(CURLOPT_FOLLOWLOCATION, true, ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(handle.info<std::string>(CURLINFO_EFFECTIVE_URL), "http://127.0.0.1/x");
}

TEST(easy, refuses_values_of_the_wrong_type) {
    easy handle;
    error_code ec;
    handle.set(CURLOPT_URL, 5, ec);
    EXPECT_EQ(ec, errc::wrong_option_type);
    handle.set(CURLOPT_TIMEOUT_MS, "soon", ec);
    EXPECT_EQ(ec, errc::wrong_option_type);
    handle.set(CURLOPT_HTTPHEADER, "X: y", ec);  // a list option, not a string
    EXPECT_EQ(ec, errc::wrong_option_type);
    handle.set(CURLOPT_WRITEFUNCTION, 1, ec);
    EXPECT_EQ(ec, errc::wrong_option_type);
    EXPECT_THROW(handle.set(CURLOPT_URL, 5), system_error);
}

// What the glue installs itself (DESIGN rules 3 and 4), refused before curl sees it; the socket options
// callback stays the user's.
TEST(easy, refuses_the_socket_callbacks_the_glue_owns) {
    easy handle;
    error_code ec;
    handle.set(
        CURLOPT_OPENSOCKETFUNCTION,
        +[](void*, curlsocktype, curl_sockaddr*) -> curl_socket_t { return CURL_SOCKET_BAD; }, ec);
    EXPECT_EQ(ec, errc::option_owned_by_library);
    handle.set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&handle), ec);
    EXPECT_EQ(ec, errc::option_owned_by_library);
    handle.set(
        CURLOPT_CLOSESOCKETFUNCTION, +[](void*, curl_socket_t) { return 0; }, ec);
    EXPECT_EQ(ec, errc::option_owned_by_library);
    handle.set(CURLOPT_CLOSESOCKETDATA, static_cast<void*>(&handle), ec);
    EXPECT_EQ(ec, errc::option_owned_by_library);
    handle.set(
        CURLOPT_SOCKOPTFUNCTION, +[](void*, curl_socket_t, curlsocktype) { return 0; }, ec);
    EXPECT_FALSE(ec);
}

TEST(easy, refuses_an_embedded_nul_and_reports_curls_errors) {
    easy handle;
    error_code ec;
    using namespace std::string_view_literals;
    handle.set(CURLOPT_URL, "http://a/\0http://b/"sv, ec);
    EXPECT_EQ(ec, errc::invalid_argument);
    handle.set(CURLOPT_URL, std::string("http://a/\0http://b/", 19), ec);
    EXPECT_EQ(ec, errc::invalid_argument);
    handle.set(CURLOPT_HTTP_VERSION, 999L, ec);  // out of range: curl's own answer
    EXPECT_EQ(ec, make_error_code(CURLE_UNSUPPORTED_PROTOCOL));
    handle.set(CURLOPT_PROXYTYPE, -5L, ec);
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.category(), curl_category());
}

TEST(easy, info_types_are_checked) {
    easy handle;
    error_code ec;
    (void)handle.info<long>(CURLINFO_EFFECTIVE_URL, ec);
    EXPECT_EQ(ec, errc::wrong_option_type);
    EXPECT_EQ(handle.info<long>(CURLINFO_RESPONSE_CODE), 0);
    EXPECT_EQ(handle.info<curl_off_t>(CURLINFO_SIZE_DOWNLOAD_T), 0);
    EXPECT_EQ(handle.info<std::string>(CURLINFO_EFFECTIVE_URL), "");
}

TEST(easy, moved_from_handles_fail_cleanly) {
    easy a;
    easy b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_TRUE(b);
    EXPECT_EQ(a.native_handle(), nullptr);
    error_code ec;
    a.set(CURLOPT_URL, "http://x/", ec);
    EXPECT_EQ(ec, errc::empty_handle);
    EXPECT_THROW(a.reset(), system_error);
    EXPECT_TRUE(a.error_message().empty());
    a = std::move(b);
    EXPECT_TRUE(a);
}

TEST(easy, reset_keeps_the_library_defaults) {
    easy handle;
    handle.set(CURLOPT_URL, "http://127.0.0.1/");
    handle.reset();
    void* data = nullptr;
    curl_easy_getinfo(handle.native_handle(), CURLINFO_PRIVATE, &data);
    EXPECT_EQ(data, static_cast<void*>(handle.state()));
    EXPECT_EQ(handle.info<std::string>(CURLINFO_EFFECTIVE_URL), "");
}

}  // namespace
}  // namespace asiocurl

// The server-side auth checks against published answers: RFC 7616/2617 Digest examples, the AWS SigV4 test
// suite and the S3 documentation's signed examples. A check that accepted its own output only would prove
// nothing about libcurl, so every "accepted" case here was computed by someone else.
#include "auth_check.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::test {
namespace {

// ---- Digest ----

// RFC 7616 section 3.9.1.
constexpr std::string_view rfc7616_user = "Mufasa";
constexpr std::string_view rfc7616_password = "Circle of Life";
constexpr std::string_view rfc7616_realm = "http-auth@example.org";
constexpr std::string_view rfc7616_nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
constexpr std::string_view rfc7616_md5_response = "8ca523f5e9506fed4657c9700eebdbec";
constexpr std::string_view rfc7616_sha256_response =
    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";

std::string rfc7616_authorization(std::string_view algorithm, std::string_view response,
                                  std::string_view uri = "/dir/index.html",
                                  std::string_view nonce = rfc7616_nonce) {
    return "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"" + std::string(uri) +
           "\", algorithm=" + std::string(algorithm) + ", nonce=\"" + std::string(nonce) +
           "\", nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"" +
           std::string(response) + "\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
}

std::string check_rfc7616(const std::string& authorization, std::string_view algorithm,
                          std::string_view password = rfc7616_password,
                          std::string_view target = "/dir/index.html",
                          std::string_view nonce = rfc7616_nonce) {
    return check_digest_authorization(authorization, "GET", target, rfc7616_user, password, rfc7616_realm,
                                      nonce, algorithm);
}

TEST(auth_check, digest_rfc7616_md5_example_is_accepted) {
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response), "MD5"), "");
}

TEST(auth_check, digest_rfc7616_sha256_example_is_accepted) {
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("SHA-256", rfc7616_sha256_response), "SHA-256"), "");
}

TEST(auth_check, digest_rfc2617_example_without_algorithm_field_is_md5) {
    // RFC 2617 section 3.5: no algorithm field, which means MD5.
    const std::string authorization =
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
        "uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
        "response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    EXPECT_EQ(check_digest_authorization(authorization, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                                         "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "MD5"),
              "");
    EXPECT_EQ(
        check_digest_authorization(authorization, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                                   "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "SHA-256"),
        "algorithm mismatch: MD5");
}

TEST(auth_check, digest_rfc2069_style_response_without_qop_is_accepted) {
    // RFC 2069 section 2.4's inputs; the response is H(HA1:nonce:HA2), computed with Python's hashlib.
    const std::string authorization =
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
        "uri=\"/dir/index.html\", response=\"1949323746fe6a43ef61f9606e7febea\"";
    const auto check = [&](std::string_view password) {
        return check_digest_authorization(authorization, "GET", "/dir/index.html", "Mufasa", password,
                                          "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "MD5");
    };
    EXPECT_EQ(check("CircleOfLife"), "");
    EXPECT_EQ(check("Circle Of Life"), "wrong response");
}

TEST(auth_check, digest_wrong_password_is_refused) {
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response), "MD5", "circle of life"),
              "wrong response");
    EXPECT_EQ(
        check_rfc7616(rfc7616_authorization("SHA-256", rfc7616_sha256_response), "SHA-256", "Circle of Lif"),
        "wrong response");
}

TEST(auth_check, digest_uri_other_than_the_request_target_is_refused) {
    // A response for another resource, replayed: the uri field no longer names what was requested.
    const auto reason = check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response), "MD5",
                                      rfc7616_password, "/dir/other.html");
    EXPECT_EQ(reason.rfind("uri mismatch", 0), 0u) << reason;
    // The uri rewritten to match the target, without a new response.
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response, "/dir/other.html"), "MD5",
                            rfc7616_password, "/dir/other.html"),
              "wrong response");
}

TEST(auth_check, digest_nonce_other_than_the_issued_one_is_refused) {
    const auto reason = check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response), "MD5",
                                      rfc7616_password, "/dir/index.html", "a-fresh-nonce");
    EXPECT_EQ(reason.rfind("nonce mismatch", 0), 0u) << reason;
}

TEST(auth_check, digest_response_for_the_other_algorithm_is_refused) {
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("MD5", rfc7616_md5_response), "SHA-256"),
              "algorithm mismatch: MD5");
    // Claiming SHA-256 with an MD5 response does not pass either.
    EXPECT_EQ(check_rfc7616(rfc7616_authorization("SHA-256", rfc7616_md5_response), "SHA-256"),
              "wrong response");
}

TEST(auth_check, digest_qop_needs_cnonce_and_an_eight_digit_nc) {
    const std::string without_cnonce =
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
        "algorithm=MD5, "
        "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, qop=auth, "
        "response=\"8ca523f5e9506fed4657c9700eebdbec\"";
    EXPECT_EQ(check_rfc7616(without_cnonce, "MD5"), "missing field cnonce");

    std::string short_nc = rfc7616_authorization("MD5", rfc7616_md5_response);
    short_nc.replace(short_nc.find("nc=00000001"), 11, "nc=1");
    EXPECT_EQ(check_rfc7616(short_nc, "MD5"), "malformed nc 1");

    std::string other_qop = rfc7616_authorization("MD5", rfc7616_md5_response);
    other_qop.replace(other_qop.find("qop=auth"), 8, "qop=auth-int");
    EXPECT_EQ(check_rfc7616(other_qop, "MD5"), "unsupported qop auth-int");
}

TEST(auth_check, digest_other_schemes_and_missing_fields_are_refused) {
    EXPECT_EQ(check_rfc7616("Basic TXVmYXNhOkNpcmNsZSBvZiBMaWZl", "MD5").rfind("not a Digest", 0), 0u);
    EXPECT_EQ(check_rfc7616("Digest username=\"Mufasa\", realm=\"http-auth@example.org\"", "MD5"),
              "missing field nonce");
    EXPECT_EQ(check_rfc7616("Digest username=\"Mufasa", "MD5"), "unterminated quoted value of username");
}

TEST(auth_check, digest_challenge_carries_what_a_client_needs) {
    const std::string challenge = digest_challenge("asiocurl-test", "b6a3d0c4e1f2", "SHA-256");
    EXPECT_EQ(challenge,
              "Digest realm=\"asiocurl-test\", qop=\"auth\", algorithm=SHA-256, nonce=\"b6a3d0c4e1f2\", "
              "opaque=\"ace32fc198046b59c4ba6ded5c6e74ac\"");
    // Quotes and backslashes in a quoted value are escaped, or the header would end early.
    EXPECT_EQ(digest_challenge("a\"b\\c", "n", "MD5").rfind("Digest realm=\"a\\\"b\\\\c\", ", 0), 0u);
}

TEST(auth_check, digest_response_to_the_challenge_in_curls_layout_is_accepted) {
    // curl's layout (lib/vauth/digest.c): username escaped in its quoted string, nc and qop unquoted,
    // algorithm last. The username is al"i\ce; the response was computed with Python's hashlib.
    const std::string authorization =
        "Digest username=\"al\\\"i\\\\ce\", realm=\"asiocurl-test\", nonce=\"b6a3d0c4e1f2\", "
        "uri=\"/private?x=1\", "
        "cnonce=\"Y2xpZW50\", nc=00000002, qop=auth, "
        "response=\"8b1eb6ce8b261cea97081ee8027cdc68c88b15bbeb4329f54a104327376fbe39\", "
        "opaque=\"ace32fc198046b59c4ba6ded5c6e74ac\", algorithm=SHA-256";
    EXPECT_EQ(check_digest_authorization(authorization, "POST", "/private?x=1", "al\"i\\ce", "s3cret",
                                         "asiocurl-test", "b6a3d0c4e1f2", "SHA-256"),
              "");
    // The method is part of HA2.
    EXPECT_EQ(check_digest_authorization(authorization, "GET", "/private?x=1", "al\"i\\ce", "s3cret",
                                         "asiocurl-test", "b6a3d0c4e1f2", "SHA-256"),
              "wrong response");
}

// ---- SigV4 ----

// The AWS SigV4 test suite's credentials and scope (aws-sig-v4-test-suite).
constexpr std::string_view suite_access_key = "AKIDEXAMPLE";
constexpr std::string_view suite_secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

sigv4_request suite_request(std::string method, std::string target, std::string signed_headers,
                            std::string signature,
                            std::vector<std::pair<std::string, std::string>> extra = {},
                            std::string body = {}) {
    sigv4_request request{std::move(method), std::move(target), {}, std::move(body)};
    request.headers.emplace_back("Host", "example.amazonaws.com");
    for (auto& header : extra)
        request.headers.push_back(std::move(header));
    request.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
    request.headers.emplace_back(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=" +
            signed_headers + ", Signature=" + signature);
    return request;
}

std::string check_suite(const sigv4_request& request) {
    return check_sigv4(request, suite_access_key, suite_secret_key, "us-east-1", "service");
}

sigv4_request get_vanilla() {
    return suite_request("GET", "/", "host;x-amz-date",
                         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

sigv4_request post_x_www_form_urlencoded() {
    return suite_request("POST", "/", "content-type;host;x-amz-date",
                         "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
                         {{"Content-Type", "application/x-www-form-urlencoded"}}, "Param1=value1");
}

sigv4_request get_vanilla_query_order_key_case() {
    return suite_request("GET", "/?Param2=value2&Param1=value1", "host;x-amz-date",
                         "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

std::string& authorization_of(sigv4_request& request) {
    for (auto& [name, value] : request.headers)
        if (name == "Authorization") return value;
    throw std::logic_error("no Authorization");
}

// The canonical request the check built, from its mismatch message.
std::string canonical_request_in(const std::string& reason) {
    const auto start = reason.find("canonical request:\n");
    const auto end = reason.find("\nstring to sign:");
    if (start == std::string::npos || end == std::string::npos)
        return "(no canonical request in: " + reason + ")";
    return reason.substr(start + 19, end - start - 19);
}

TEST(auth_check, sigv4_aws_get_vanilla_is_accepted) {
    EXPECT_EQ(check_suite(get_vanilla()), "");
}

TEST(auth_check, sigv4_tampered_signature_is_refused) {
    auto request = get_vanilla();
    auto& authorization = authorization_of(request);
    authorization.back() = authorization.back() == '1' ? '2' : '1';
    const auto reason = check_suite(request);
    EXPECT_EQ(reason.rfind("signature mismatch", 0), 0u) << reason;
    // The message says what was signed, to compare with what the client logged.
    EXPECT_EQ(canonical_request_in(reason),
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_NE(check_sigv4(get_vanilla(), suite_access_key, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz",
                          "us-east-1", "service"),
              "");
}

TEST(auth_check, sigv4_body_is_signed_through_its_hash) {
    EXPECT_EQ(check_suite(post_x_www_form_urlencoded()), "");
    auto tampered = post_x_www_form_urlencoded();
    tampered.body = "Param1=value2";
    EXPECT_EQ(check_suite(tampered).rfind("signature mismatch", 0), 0u);
}

TEST(auth_check, sigv4_tampered_query_value_is_refused) {
    EXPECT_EQ(check_suite(get_vanilla_query_order_key_case()), "");
    auto tampered = get_vanilla_query_order_key_case();
    tampered.target = "/?Param2=value2&Param1=value9";
    EXPECT_EQ(check_suite(tampered).rfind("signature mismatch", 0), 0u);
}

TEST(auth_check, sigv4_query_is_sorted_by_name_then_value_in_byte_order) {
    // The suite's vectors: parameters sent unsorted, signed sorted; one name sorted by its values.
    EXPECT_EQ(check_suite(get_vanilla_query_order_key_case()), "");
    EXPECT_EQ(check_suite(suite_request("GET", "/?Param1=value2&Param1=value1", "host;x-amz-date",
                                        "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694")),
              "");
    // Byte order, not numeric or locale: "10" before "2", "Z" before "a". A name without '=' gets an empty
    // value; encodings are normalised (upper-case hex, unreserved bytes literal).
    auto request = get_vanilla();
    request.target = "/?b=2&a=2&a=10&flag&Z=1&c=%7e&d=%2f&&e=x%3Dy";
    const auto canonical = canonical_request_in(check_suite(request));
    EXPECT_NE(canonical.find("\n/\nZ=1&a=10&a=2&b=2&c=~&d=%2F&e=x%3Dy&flag=\n"), std::string::npos)
        << canonical;
}

TEST(auth_check, sigv4_header_values_are_trimmed_and_repeats_joined) {
    // Suite vector get-header-value-trim: leading blanks dropped, inner runs collapsed, even within quotes.
    EXPECT_EQ(check_suite(suite_request("GET", "/", "host;my-header1;my-header2;x-amz-date",
                                        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
                                        {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\" "}})),
              "");
    // Suite vector get-header-key-duplicate: one header sent three times signs as its values joined by ','.
    EXPECT_EQ(check_suite(suite_request(
                  "GET", "/", "host;my-header1;x-amz-date",
                  "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
                  {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}})),
              "");
}

// The S3 documentation's examples (sig-v4-header-based-auth): another key, region us-east-1, service s3.
constexpr std::string_view s3_access_key = "AKIAIOSFODNN7EXAMPLE";
constexpr std::string_view s3_secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

sigv4_request s3_request(std::string method, std::string target, std::string signed_headers,
                         std::string signature, std::vector<std::pair<std::string, std::string>> extra,
                         std::string body = {}) {
    sigv4_request request{std::move(method), std::move(target), {}, std::move(body)};
    request.headers.emplace_back("Host", "examplebucket.s3.amazonaws.com");
    for (auto& header : extra)
        request.headers.push_back(std::move(header));
    request.headers.emplace_back("x-amz-date", "20130524T000000Z");
    request.headers.emplace_back(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=" +
            signed_headers + ",Signature=" + signature);
    return request;
}

std::string check_s3(const sigv4_request& request) {
    return check_sigv4(request, s3_access_key, s3_secret_key, "us-east-1", "s3");
}

sigv4_request s3_put_object() {
    return s3_request(
        "PUT", "/test%24file.text", "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
         {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
         {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
        "Welcome to Amazon S3.");
}

TEST(auth_check, sigv4_s3_documentation_examples_are_accepted) {
    const std::pair<std::string, std::string> empty_payload{"x-amz-content-sha256",
                                                            std::string(empty_sha256)};
    EXPECT_EQ(check_s3(s3_request("GET", "/test.txt", "host;range;x-amz-content-sha256;x-amz-date",
                                  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
                                  {{"Range", "bytes=0-9"}, empty_payload})),
              "");
    // S3 signs the path as sent: %24 once, not %2524.
    EXPECT_EQ(check_s3(s3_put_object()), "");
    // "lifecycle" without '=' signs as "lifecycle=".
    EXPECT_EQ(check_s3(s3_request("GET", "/?lifecycle", "host;x-amz-content-sha256;x-amz-date",
                                  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
                                  {empty_payload})),
              "");
    EXPECT_EQ(check_s3(s3_request("GET", "/?max-keys=2&prefix=J", "host;x-amz-content-sha256;x-amz-date",
                                  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
                                  {empty_payload})),
              "");
}

TEST(auth_check, sigv4_content_sha256_header_must_match_the_body) {
    // The header is what gets signed, so a body swapped under an unchanged header must still be caught.
    auto tampered = s3_put_object();
    tampered.body = "Welcome to Amazon S4.";
    const auto reason = check_s3(tampered);
    EXPECT_EQ(reason.rfind("x-amz-content-sha256 44ce7dd6", 0), 0u) << reason;

    auto streaming = s3_put_object();
    for (auto& [name, value] : streaming.headers)
        if (name == "x-amz-content-sha256") value = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    EXPECT_EQ(check_s3(streaming),
              "unsupported x-amz-content-sha256 value STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
}

TEST(auth_check, sigv4_path_is_encoded_once_more_except_for_s3) {
    auto request = get_vanilla();
    request.target = "/a%20b/c~d";
    EXPECT_NE(canonical_request_in(check_suite(request)).find("\n/a%2520b/c~d\n"), std::string::npos);
    auto as_s3 = s3_request("GET", "/a%20b/c~d", "host;x-amz-date", std::string(64, '0'), {});
    EXPECT_NE(canonical_request_in(check_s3(as_s3)).find("\n/a%20b/c~d\n"), std::string::npos);
}

TEST(auth_check, sigv4_scope_date_and_header_rules_are_enforced) {
    EXPECT_EQ(check_sigv4(get_vanilla(), "AKIDOTHER", suite_secret_key, "us-east-1", "service"),
              "unknown access key AKIDEXAMPLE");
    EXPECT_EQ(check_sigv4(get_vanilla(), suite_access_key, suite_secret_key, "eu-west-1", "service"),
              "region mismatch: us-east-1");

    auto next_day = get_vanilla();
    for (auto& [name, value] : next_day.headers)
        if (name == "X-Amz-Date") value = "20150831T000100Z";
    EXPECT_EQ(check_suite(next_day).rfind("Credential date 20150830 is not the X-Amz-Date day", 0), 0u);

    auto twice_dated = get_vanilla();
    twice_dated.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
    EXPECT_EQ(check_suite(twice_dated), "expected one X-Amz-Date header, got 2");

    auto host_unsigned = suite_request("GET", "/", "x-amz-date", std::string(64, '0'));
    EXPECT_EQ(check_suite(host_unsigned), "SignedHeaders lacks host");

    auto header_absent = suite_request("GET", "/", "host;my-header1;x-amz-date", std::string(64, '0'));
    EXPECT_EQ(check_suite(header_absent), "signed header my-header1 is missing from the request");

    auto unsorted = suite_request("GET", "/", "x-amz-date;host", std::string(64, '0'));
    EXPECT_EQ(check_suite(unsorted).rfind("SignedHeaders not sorted", 0), 0u);

    auto unsigned_amz = get_vanilla();
    unsigned_amz.headers.emplace_back("X-Amz-Security-Token", "token");
    EXPECT_EQ(check_suite(unsigned_amz), "x-amz-security-token was sent but not signed");

    auto unauthorized = get_vanilla();
    std::erase_if(unauthorized.headers, [](const auto& header) { return header.first == "Authorization"; });
    EXPECT_EQ(check_suite(unauthorized), "expected one Authorization header, got 0");
}

}  // namespace
}  // namespace asiocurl::test

#pragma once

// Server-side checks of HTTP authentication, for the in-process test server: they recompute what a real
// server would and say why a request fails, so a test proves libcurl's output is acceptable rather than
// merely present. Pure functions over the request as received; no I/O, no clock.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::test {

// ---- HTTP Digest (RFC 7616; MD5 and SHA-256, qop=auth, and RFC 2069-style responses without qop) ----

// The WWW-Authenticate value a server sends:
//   Digest realm="...", qop="auth", algorithm=ALG, nonce="...", opaque="..."
// `algorithm` is "MD5" or "SHA-256". The opaque is derived from the nonce, so one challenge is reproducible.
std::string digest_challenge(std::string_view realm, std::string_view nonce, std::string_view algorithm);

// Checks an Authorization header value for `method` and the request-target the server received.
// Returns "" when valid, else the reason ("wrong response", "nonce mismatch", "uri mismatch",
// "missing field cnonce", ...). Checked: scheme Digest, username, realm, nonce equal to the issued one, uri
// equal to `target`, algorithm (absent means MD5), qop (only "auth"; cnonce and nc required with it,
// nc 8 hex digits, neither allowed without it) and the response (RFC 7616 3.4.1):
//   HA1 = H(user:realm:password), HA2 = H(method:uri),
//   response = H(HA1:nonce:nc:cnonce:qop:HA2), or H(HA1:nonce:HA2) without qop.
// The opaque is not checked (no parameter carries the issued one); userhash and -sess are refused.
std::string check_digest_authorization(std::string_view authorization, std::string_view method,
                                       std::string_view target, std::string_view user,
                                       std::string_view password, std::string_view realm,
                                       std::string_view nonce, std::string_view algorithm);

// ---- AWS Signature Version 4, as curl's CURLOPT_AWS_SIGV4 "aws:amz:REGION:SERVICE" sends it ----

struct sigv4_request {
    std::string method;
    std::string target;                                        // as received: path and optional ?query
    std::vector<std::pair<std::string, std::string>> headers;  // every header received, as received
    std::string body;
};

// Recomputes the signature (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
// from the request as received and compares it with the Authorization header's. Returns "" when valid,
// else why; a signature mismatch carries the canonical request and string to sign, to debug.
//
// What is required, as AWS does: scheme AWS4-HMAC-SHA256; Credential AK/DATE/REGION/SERVICE/aws4_request
// naming these credentials; exactly one X-Amz-Date (YYYYMMDDTHHMMSSZ) whose day is DATE (its age is not
// checked: the published vectors are from 2015); SignedHeaders lower case, sorted, unique, containing host
// and x-amz-date, each present; every x-amz-* header received signed; an x-amz-content-sha256 header, when
// present, is the payload hash and must be the body's SHA-256 or UNSIGNED-PAYLOAD.
//
// Canonical forms (the standard, which is what curl 8.14 produces):
//  - URI: the path percent-encoded once more (every byte but A-Z a-z 0-9 - . _ ~ and '/'), "/" when empty;
//    for services s3, s3-express and s3-outposts the path exactly as received.
//  - query: split on '&' (empty parts dropped), name and value at the first '=' (no '=' is an empty value),
//    each percent-decoded and re-encoded (upper-case hex, unreserved bytes literal, so '+' is %2B), sorted
//    by name then value in byte order, joined as name=value with '&'.
//  - headers: lower-cased names in SignedHeaders order; a header received several times is its values joined
//    with ','; each value trimmed with inner runs of spaces and tabs collapsed to one space.
//
// curl 7.88.1 and 8.14.1 (lib/http_aws_sigv4.c at tags curl-7_88_1 and curl-8_14_1) differ; a test that
// must pass with both avoids what they disagree on (each confirmed by running the curl tool on both libcurls
// against a socket and this check on what arrived):
//  - Query: 7.88.1 signs data->state.up.query verbatim (line 473): unsorted, not re-encoded, "flag" without
//    '='. 8.14.1 canon_query() (lines 565-669) sorts, re-encodes and writes "flag=" (curl 8.3.0 and 8.5.0).
//    Tests send the query already sorted, every parameter with '=', only unreserved bytes or upper-case %XX.
//    8.14.1 also signs a '+' (and %2B) as %20 (encode_query_component(), lines 1104-1106), against %2B
//    here and '+' in 7.88.1: tests put no '+' in a signed query.
//  - Path: 7.88.1 signs data->state.up.path verbatim (line 472). 8.14.1 canon_path() (lines 539-563)
//    encodes it once more except for s3 services (should_urlencode(), lines 1135-1150; curl 8.9.0), so
//    "/a%20b" signs as "/a%2520b". Tests use paths of unreserved bytes and '/' only. Neither version merges
//    "//", which AWS's generic (non-S3) rule does: no empty path segments either.
//  - Header order: 7.88.1 sorts whole "name:value" lines (lines 226-240), so "x-id-2" sorts before "x-id"
//    ('-' < ':'); 8.14.1 compares names only (compare_header_names(), lines 149-176; curl 8.10.0). Tests sign
//    no header whose name is a prefix of another's followed by '-', '.' or a digit.
//  - Repeated headers: 7.88.1 signs each line separately and repeats the name in SignedHeaders; 8.14.1
//    merges them with ',' (merge_duplicate_headers(), lines 181-227; curl 8.13.0). Tests don't repeat one.
//  - 7.88.1 signs every CURLOPT_HTTPHEADER entry verbatim (lines 192-197), including "Name:" (which removes
//    a header, so it signs one never sent) and "Name;"; 8.14.1 skips the first and signs the second as
//    "name:" (lines 286-322). Tests use neither form with SigV4.
//  - A user-supplied X-Amz-Date is sent twice by 7.88.1 (copied at lines 209-224, appended again after the
//    Authorization at 533-543); 8.14.1 sends it once (line 355; curl 8.3.0). Tests let curl date the request.
//    With a user "Date:" header instead, both sign "date" and no x-amz-date (find_date_hdr(), lines 71-78
//    in 7.88.1), which this check refuses.
//  - For provider "aws" and service "s3", 8.14.1 adds a signed x-amz-content-sha256, UNSIGNED-PAYLOAD for a
//    body not in CURLOPT_POSTFIELDS (calc_s3_payload_hash(), lines 464-499; curl 8.0.0); 7.88.1 never does.
//  - Both hash only CURLOPT_POSTFIELDS as the payload (7.88.1 lines 442-456, 8.14.1 calc_payload_hash(),
//    lines 442-460), so an upload through a read callback or mime is signed as an empty body and refused
//    here, as AWS would. Both sign only host, x-amz-date and CURLOPT_HTTPHEADER entries: curl's own
//    Content-Type, Content-Length, User-Agent and Accept are signed by neither.
//  - 8.14.1 refuses CURLOPT_PATH_AS_IS with SigV4 (lines 707-710); 7.88.1 signs the path as is.
std::string check_sigv4(const sigv4_request& request, std::string_view access_key,
                        std::string_view secret_key, std::string_view region, std::string_view service);

}  // namespace asiocurl::test

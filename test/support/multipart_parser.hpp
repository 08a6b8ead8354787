#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::test {

// A strict reader of multipart/form-data (RFC 7578 over RFC 2046 5.1), so the test server can check every
// byte of what curl_mime sends instead of trusting a lenient parser to have smoothed over a mistake.
// Stricter than the RFCs where they allow what curl never sends:
//   - a bare LF anywhere a line must end (delimiter and header lines, and before a delimiter) is an error,
//     even where RFC 2046 would read "LF--boundary" as body bytes;
//   - a part's header section must end in an empty line, even when the part's body is empty;
//   - no whitespace around "=" in a parameter (RFC 9110's grammar, not RFC 6266's implied LWS).

struct multipart_part {
    std::string name;                         // Content-Disposition's name: unquoted, never percent-decoded
    std::optional<std::string> filename;      // Content-Disposition's filename, if given
    std::optional<std::string> content_type;  // the part's Content-Type field value, if given
    std::vector<std::pair<std::string, std::string>> headers;  // all fields in order, names lower-cased
    std::string body;
};

struct multipart_result {
    std::vector<multipart_part> parts;  // on error: the parts that were complete before the violation
    std::string error;  // empty when the body is valid, else "offset N: what was wrong" (no offset when the
                        // boundary itself is invalid)
};

// The boundary of a Content-Type field value ("multipart/form-data; boundary=XYZ", quoted or not); nullopt
// for another media type, or a boundary that is missing, given twice, or not 1 to 70 RFC 2046 bchars.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// A whole body; `error` names the first violation and the byte offset into `body` where it is.
multipart_result parse_multipart(std::string_view body, std::string_view boundary);

}  // namespace asiocurl::test

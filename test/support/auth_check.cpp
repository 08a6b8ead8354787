#include "auth_check.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::test {
namespace {

// ---- bytes, hashes, text ----

std::string to_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        hex += digits[bytes[i] >> 4];
        hex += digits[bytes[i] & 0x0f];
    }
    return hex;
}

std::string hex_digest(const EVP_MD* md, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), out, &size, md, nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    return to_hex(out, size);
}

std::string sha256_hex(std::string_view data) {
    return hex_digest(EVP_sha256(), data);
}

// Raw (not hex) HMAC-SHA256, since each step of the SigV4 key derivation keys the next with raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &size))
        throw std::runtime_error("HMAC failed");
    return std::string(reinterpret_cast<const char*>(out), size);
}

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back()))
        text.remove_suffix(1);
    return text;
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool all_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), is_hex_digit);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    return lower(c) - 'a' + 10;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

// ---- Digest ----

const EVP_MD* digest_algorithm(std::string_view name) {
    if (iequals(name, "MD5")) return EVP_md5();
    if (iequals(name, "SHA-256")) return EVP_sha256();
    return nullptr;
}

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

// The auth-params after the scheme: name=token or name="quoted-string" (RFC 9110 11.2), comma separated.
// Names are lower-cased, since they are case-insensitive; a repeated name is an error, not a choice.
struct auth_params {
    std::map<std::string, std::string> values;
    std::string error;
};

auth_params parse_auth_params(std::string_view text) {
    auth_params parsed;
    std::size_t at = 0;
    const auto skip = [&](auto predicate) {
        while (at < text.size() && predicate(text[at]))
            ++at;
    };
    for (;;) {
        skip([](char c) { return is_blank(c) || c == ','; });
        if (at == text.size()) return parsed;
        const std::size_t name_start = at;
        skip([](char c) { return c != '=' && c != ',' && !is_blank(c); });
        std::string name = to_lower(text.substr(name_start, at - name_start));
        skip(is_blank);
        if (at == text.size() || text[at] != '=') {
            parsed.error = "malformed parameter " + name;
            return parsed;
        }
        ++at;
        skip(is_blank);
        std::string value;
        if (at < text.size() && text[at] == '"') {
            ++at;
            bool closed = false;
            while (at < text.size()) {
                char c = text[at++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\' && at < text.size()) c = text[at++];
                value += c;
            }
            if (!closed) {
                parsed.error = "unterminated quoted value of " + name;
                return parsed;
            }
        } else {
            const std::size_t value_start = at;
            skip([](char c) { return c != ',' && !is_blank(c); });
            value = std::string(text.substr(value_start, at - value_start));
        }
        if (!parsed.values.emplace(name, std::move(value)).second) {
            parsed.error = "duplicate field " + name;
            return parsed;
        }
    }
}

// ---- SigV4 ----

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// AWS's UriEncode: everything but the unreserved set as %XX with upper-case hex.
std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_unreserved(byte) || (keep_slash && c == '/')) {
            out += c;
        } else {
            out += '%';
            out += digits[byte >> 4];
            out += digits[byte & 0x0f];
        }
    }
    return out;
}

// Only well-formed %XX is decoded; a stray '%' stays a literal (and is re-encoded as %25), as curl does.
std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && is_hex_digit(text[i + 1]) && is_hex_digit(text[i + 2])) {
            out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string canonical_uri(std::string_view path, std::string_view service) {
    // S3 signs the path as sent (encoded once); every other service encodes it once more.
    const bool signs_path_as_sent = service == "s3" || service == "s3-express" || service == "s3-outposts";
    std::string uri = signs_path_as_sent ? std::string(path) : uri_encode(path, true);
    return uri.empty() ? "/" : uri;
}

std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> parameters;
    for (std::string_view part : split(query, '&')) {
        if (part.empty()) continue;
        const auto equals = part.find('=');
        const std::string_view name = part.substr(0, equals);
        const std::string_view value = equals == std::string_view::npos ? "" : part.substr(equals + 1);
        parameters.emplace_back(uri_encode(percent_decode(name), false),
                                uri_encode(percent_decode(value), false));
    }
    // std::string compares as unsigned bytes, the byte order SigV4 asks for (not a locale's).
    std::sort(parameters.begin(), parameters.end());
    std::string out;
    for (const auto& [name, value] : parameters) {
        if (!out.empty()) out += '&';
        out += name + '=' + value;
    }
    return out;
}

// Trimmed, with every inner run of blanks collapsed to one space.
std::string canonical_header_value(std::string_view value) {
    std::string out;
    bool in_blanks = false;
    for (char c : trim(value)) {
        if (is_blank(c)) {
            in_blanks = true;
            continue;
        }
        if (in_blanks) out += ' ';
        in_blanks = false;
        out += c;
    }
    return out;
}

std::vector<std::string_view> header_values(const sigv4_request& request, std::string_view name) {
    std::vector<std::string_view> values;
    for (const auto& [header, value] : request.headers)
        if (iequals(header, name)) values.push_back(value);
    return values;
}

struct sigv4_authorization {
    std::string credential, signed_headers, signature;
};

std::optional<sigv4_authorization> parse_sigv4_authorization(std::string_view value, std::string& error) {
    constexpr std::string_view scheme = "AWS4-HMAC-SHA256";
    value = trim(value);
    if (value.substr(0, scheme.size()) != scheme || value.size() == scheme.size() ||
        !is_blank(value[scheme.size()])) {
        error = "Authorization is not AWS4-HMAC-SHA256: " + std::string(value);
        return std::nullopt;
    }
    std::map<std::string, std::string, std::less<>> fields;
    for (std::string_view part : split(value.substr(scheme.size()), ',')) {
        part = trim(part);
        const auto equals = part.find('=');
        if (equals == std::string_view::npos) {
            error = "malformed Authorization part: " + std::string(part);
            return std::nullopt;
        }
        if (!fields.emplace(std::string(part.substr(0, equals)), std::string(part.substr(equals + 1)))
                 .second) {
            error = "Authorization repeats " + std::string(part.substr(0, equals));
            return std::nullopt;
        }
    }
    sigv4_authorization parsed;
    for (auto [name, field] :
         {std::pair{"Credential", &parsed.credential}, std::pair{"SignedHeaders", &parsed.signed_headers},
          std::pair{"Signature", &parsed.signature}}) {
        const auto found = fields.find(std::string_view(name));
        if (found == fields.end()) {
            error = std::string("Authorization lacks ") + name;
            return std::nullopt;
        }
        *field = found->second;
    }
    return parsed;
}

bool is_amz_date(std::string_view date) {
    if (date.size() != 16 || date[8] != 'T' || date[15] != 'Z') return false;
    const auto digits = [](std::string_view part) {
        return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    return digits(date.substr(0, 8)) && digits(date.substr(9, 6));
}

}  // namespace

std::string digest_challenge(std::string_view realm, std::string_view nonce, std::string_view algorithm) {
    return "Digest realm=" + quoted(realm) + ", qop=\"auth\", algorithm=" + std::string(algorithm) +
           ", nonce=" + quoted(nonce) + ", opaque=" + quoted(hex_digest(EVP_md5(), nonce));
}

std::string check_digest_authorization(std::string_view authorization, std::string_view method,
                                       std::string_view target, std::string_view user,
                                       std::string_view password, std::string_view realm,
                                       std::string_view nonce, std::string_view algorithm) {
    const EVP_MD* md = digest_algorithm(algorithm);
    if (!md) return "unsupported algorithm " + std::string(algorithm);

    authorization = trim(authorization);
    const auto scheme_end = std::min(authorization.find_first_of(" \t"), authorization.size());
    if (!iequals(authorization.substr(0, scheme_end), "Digest"))
        return "not a Digest authorization: " + std::string(authorization);
    const auto parsed = parse_auth_params(authorization.substr(scheme_end));
    if (!parsed.error.empty()) return parsed.error;
    const auto& fields = parsed.values;
    const auto field = [&](const std::string& name) -> const std::string* {
        const auto found = fields.find(name);
        return found == fields.end() ? nullptr : &found->second;
    };

    for (const char* required : {"username", "realm", "nonce", "uri", "response"})
        if (!field(required)) return std::string("missing field ") + required;
    if (const auto* userhash = field("userhash"); userhash && iequals(*userhash, "true"))
        return "userhash is not supported";
    if (*field("username") != user) return "username mismatch: " + *field("username");
    if (*field("realm") != realm) return "realm mismatch: " + *field("realm");
    if (*field("nonce") != nonce) return "nonce mismatch: " + *field("nonce");
    if (*field("uri") != target)
        return "uri mismatch: " + *field("uri") + " for target " + std::string(target);
    // No algorithm field means MD5 (RFC 7616 3.4).
    const std::string sent_algorithm = field("algorithm") ? *field("algorithm") : "MD5";
    if (!iequals(sent_algorithm, algorithm)) return "algorithm mismatch: " + sent_algorithm;

    const auto* qop = field("qop");
    const auto* cnonce = field("cnonce");
    const auto* nc = field("nc");
    if (qop) {
        if (*qop != "auth") return "unsupported qop " + *qop;
        if (!cnonce) return "missing field cnonce";
        if (!nc) return "missing field nc";
        if (nc->size() != 8 || !all_hex(*nc)) return "malformed nc " + *nc;
    } else if (cnonce || nc) {
        // RFC 2617 3.2.2: cnonce and nc only go with a qop.
        return std::string("field ") + (cnonce ? "cnonce" : "nc") + " without qop";
    }

    const auto hash = [&](const std::string& text) { return hex_digest(md, text); };
    const std::string ha1 = hash(std::string(user) + ':' + std::string(realm) + ':' + std::string(password));
    const std::string ha2 = hash(std::string(method) + ':' + *field("uri"));
    const std::string expected =
        qop ? hash(ha1 + ':' + *field("nonce") + ':' + *nc + ':' + *cnonce + ':' + *qop + ':' + ha2)
            : hash(ha1 + ':' + *field("nonce") + ':' + ha2);
    if (to_lower(*field("response")) != expected) return "wrong response";
    return {};
}

std::string check_sigv4(const sigv4_request& request, std::string_view access_key,
                        std::string_view secret_key, std::string_view region, std::string_view service) {
    const auto authorizations = header_values(request, "authorization");
    if (authorizations.size() != 1)
        return "expected one Authorization header, got " + std::to_string(authorizations.size());
    std::string error;
    const auto authorization = parse_sigv4_authorization(authorizations.front(), error);
    if (!authorization) return error;

    // Credential = ACCESS_KEY/DATE/REGION/SERVICE/aws4_request
    const auto credential = split(authorization->credential, '/');
    if (credential.size() != 5) return "malformed Credential " + authorization->credential;
    if (credential[0] != access_key) return "unknown access key " + std::string(credential[0]);
    if (credential[2] != region) return "region mismatch: " + std::string(credential[2]);
    if (credential[3] != service) return "service mismatch: " + std::string(credential[3]);
    if (credential[4] != "aws4_request") return "Credential does not end in aws4_request";

    const auto dates = header_values(request, "x-amz-date");
    if (dates.size() != 1) return "expected one X-Amz-Date header, got " + std::to_string(dates.size());
    const std::string amz_date(trim(dates.front()));
    if (!is_amz_date(amz_date)) return "malformed X-Amz-Date " + amz_date;
    if (credential[1] != amz_date.substr(0, 8))
        return "Credential date " + std::string(credential[1]) + " is not the X-Amz-Date day " + amz_date;

    const auto signed_names = split(authorization->signed_headers, ';');
    for (std::size_t i = 0; i < signed_names.size(); ++i) {
        if (signed_names[i].empty() || to_lower(signed_names[i]) != signed_names[i])
            return "SignedHeaders must be non-empty lower-case names: " + authorization->signed_headers;
        if (i > 0 && !(signed_names[i - 1] < signed_names[i]))
            return "SignedHeaders not sorted or repeated: " + authorization->signed_headers;
    }
    const auto is_signed = [&](std::string_view name) {
        return std::find(signed_names.begin(), signed_names.end(), name) != signed_names.end();
    };
    for (const char* required : {"host", "x-amz-date"})
        if (!is_signed(required)) return std::string("SignedHeaders lacks ") + required;
    // S3 refuses x-amz-* headers left out of the signature, since they change what the request means.
    for (const auto& [name, value] : request.headers)
        if (const auto lowered = to_lower(name); lowered.rfind("x-amz-", 0) == 0 && !is_signed(lowered))
            return lowered + " was sent but not signed";

    std::string canonical_headers;
    for (std::string_view name : signed_names) {
        const auto values = header_values(request, name);
        if (values.empty()) return "signed header " + std::string(name) + " is missing from the request";
        canonical_headers += std::string(name) + ':';
        for (std::size_t i = 0; i < values.size(); ++i)
            canonical_headers += (i ? "," : "") + canonical_header_value(values[i]);
        canonical_headers += '\n';
    }

    const std::string body_hash = sha256_hex(request.body);
    std::string payload_hash = body_hash;
    const auto content_hashes = header_values(request, "x-amz-content-sha256");
    if (content_hashes.size() > 1) return "x-amz-content-sha256 sent more than once";
    if (content_hashes.size() == 1) {
        payload_hash = std::string(trim(content_hashes.front()));
        if (payload_hash == "UNSIGNED-PAYLOAD") {
            // The body is deliberately outside the signature.
        } else if (payload_hash.size() != 64 || !all_hex(payload_hash)) {
            return "unsupported x-amz-content-sha256 value " + payload_hash;
        } else if (to_lower(payload_hash) != body_hash) {
            return "x-amz-content-sha256 " + payload_hash + " is not the body's SHA-256 " + body_hash;
        }
    }

    const std::string_view target = request.target;
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);

    const std::string canonical_request = request.method + '\n' + canonical_uri(path, service) + '\n' +
                                          canonical_query(query) + '\n' + canonical_headers + '\n' +
                                          authorization->signed_headers + '\n' + payload_hash;
    const std::string scope =
        amz_date.substr(0, 8) + '/' + std::string(region) + '/' + std::string(service) + "/aws4_request";
    const std::string string_to_sign =
        "AWS4-HMAC-SHA256\n" + amz_date + '\n' + scope + '\n' + sha256_hex(canonical_request);

    std::string key = hmac_sha256("AWS4" + std::string(secret_key), amz_date.substr(0, 8));
    for (std::string_view step : {region, service, std::string_view("aws4_request")})
        key = hmac_sha256(key, step);
    const std::string signature = [&] {
        const std::string raw = hmac_sha256(key, string_to_sign);
        return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    }();

    if (authorization->signature != signature)
        return "signature mismatch: got " + authorization->signature + ", expected " + signature +
               "\ncanonical request:\n" + canonical_request + "\nstring to sign:\n" + string_to_sign;
    return {};
}

}  // namespace asiocurl::test

#pragma once

#include <string>

namespace asiocurl::test {

// Certificates and keys generated for this process only, so no secrets live in the tree.
struct tls_material {
    std::string dir;            // temp dir holding the files (mkdtemp under /tmp), removed at process exit
    std::string ca_file;        // PEM of the test CA that signed the server certificate
    std::string cert_file;      // server certificate (PEM), SAN: localhost, 127.0.0.1, ::1
    std::string key_file;       // server private key (PEM)
    std::string other_ca_file;  // PEM of an unrelated CA (for "wrong CA" tests)
    std::string client_cert_file, client_key_file;  // client certificate signed by the test CA (mTLS tests)
    // Bad server certificates for the TLS fault modes, each for key_file's key:
    std::string wrong_host_cert_file;   // signed by the test CA, but its only SAN is DNS:wrong.example
    std::string expired_cert_file;      // signed by the test CA, same SANs as cert_file, expired a day ago
    std::string self_signed_cert_file;  // same SANs as cert_file, signed by nothing but itself
};

// Generated on first use (thread-safe); throws std::runtime_error if OpenSSL fails.
const tls_material& tls();

}  // namespace asiocurl::test

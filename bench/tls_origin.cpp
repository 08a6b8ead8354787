// A TLS origin for the Connection: close workload of asiocurl_pool_client: the tests' Beast server (which,
// unlike the bench nginx, resumes TLS sessions) on a loopback port, with a certificate of the tests' CA.
// Prints "URL CA_FILE" (URL: https://127.0.0.1:PORT) and serves until its standard input closes.
// Usage: tls_origin [--tls12]
//   e.g. coproc ORIGIN { build/release/bench/tls_origin; }; read URL CA <&"${ORIGIN[0]}"
//        asiocurl_pool_client "$URL/close/1024" 3000 16 --close --cafile "$CA"
#include "test_server.hpp"
#include "tls_material.hpp"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    const bool tls12 = argc > 1 && std::strcmp(argv[1], "--tls12") == 0;
    asiocurl::test::test_server server(
        asiocurl::test::test_server::options{.tls = true, .tls_1_2_only = tls12});
    std::printf("https://127.0.0.1:%u %s\n", static_cast<unsigned>(server.port()),
                asiocurl::test::tls().ca_file.c_str());
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {}
    std::fprintf(stderr, "tls_origin: %zu connections, %zu resumed TLS sessions\n",
                 server.accepted_connections(), server.resumed_tls_sessions());
    return 0;
}

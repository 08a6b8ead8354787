// Which libcurl the suite runs against: curl_version_info at run time, which can differ from the headers the
// suite was compiled against. Run by ctest in every test build (the TSan one too); scripts/test.sh prints
// its first line in each stage's header.
#include <curl/curl.h>

#include <cstdio>

int main() {
    const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
    if (!info) return 1;
    std::printf("libcurl %s (%s) at run time, headers %s\n", info->version,
                info->ssl_version ? info->ssl_version : "no TLS", LIBCURL_VERSION);
    int failures = 0;
    // The suite is built against one libcurl (the system's, or 8.x unpacked into build/curl8 by the *-curl8
    // presets) and must run that one: a build against 8.x that loaded the system's 7.88 (a lost rpath) would
    // test the wrong curl and pass.
    if (info->version_num >> 8 != static_cast<unsigned>(LIBCURL_VERSION_NUM) >> 8) {
        std::printf("FAIL: built against libcurl %s but running %s\n", LIBCURL_VERSION, info->version);
        ++failures;
    }
    // What the suite relies on: the threaded resolver (DESIGN rules 4, 5, 13), HTTP/2, TLS.
    const struct {
        int bit;
        const char* name;
    } needed[] = {
        {CURL_VERSION_ASYNCHDNS, "AsynchDNS"}, {CURL_VERSION_HTTP2, "HTTP2"}, {CURL_VERSION_SSL, "SSL"}};
    for (const auto& feature : needed) {
        if (!(info->features & feature.bit)) {
            std::printf("FAIL: this libcurl has no %s\n", feature.name);
            ++failures;
        }
    }
    return failures == 0 ? 0 : 1;
}

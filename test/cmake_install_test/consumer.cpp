// A program built against the installed package: reads a local file through the multi.
#include <asiocurl/asiocurl.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    boost::asio::io_context ioc;
    asiocurl::multi multi(ioc);
    asiocurl::easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, std::string("file://") + argv[1]);
    asiocurl::error_code result = asiocurl::make_error_code(CURLE_FAILED_INIT);
    multi.async_perform(handle, [&](asiocurl::error_code ec) { result = ec; });
    ioc.run();
    // The package's CURL dependency must find the libcurl the library was built against (system or 8.x).
    const unsigned running = curl_version_info(CURLVERSION_NOW)->version_num;
    std::printf("%s: %zu bytes, %s, libcurl %s (headers %s)\n", argv[1], body.size(),
                result.message().c_str(), curl_version_info(CURLVERSION_NOW)->version, LIBCURL_VERSION);
    const bool same_curl = running >> 8 == static_cast<unsigned>(LIBCURL_VERSION_NUM) >> 8;
    return !result && same_curl && body.find("int main") != std::string::npos ? 0 : 1;
}

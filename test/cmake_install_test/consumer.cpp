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
    std::printf("%s: %zu bytes, %s\n", argv[1], body.size(), result.message().c_str());
    return !result && body.find("int main") != std::string::npos ? 0 : 1;
}

// The shortest complete asiocurl program: fetch one URL in a coroutine, print its status and size.
// Usage: asiocurl_fetch_one URL
#include <asiocurl/asiocurl.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace asio = boost::asio;

asio::awaitable<void> fetch(asiocurl::multi& multi, std::string url) {
    asiocurl::easy easy;
    std::string body;
    easy.set(CURLOPT_URL, url);
    easy.set(CURLOPT_FOLLOWLOCATION, 1L);
    easy.write_to(body);
    co_await multi.async_perform(easy, asio::use_awaitable);
    std::printf("%s: HTTP %ld, %zu bytes\n", url.c_str(), easy.info<long>(CURLINFO_RESPONSE_CODE),
                body.size());
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 2;
    }
    asio::io_context ioc;
    asiocurl::multi multi(ioc);
    // Rethrown from the completion handler, the coroutine's exception (a failed transfer throws
    // asiocurl::system_error) comes out of ioc.run().
    asio::co_spawn(ioc, fetch(multi, argv[1]), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    try {
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

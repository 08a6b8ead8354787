// Downloads a URL to a file with a progress bar: the body is streamed (http::stream), so memory stays at the
// stream's buffer whatever the file size, and the network waits whenever the disk is slower.
//
//   asiocurl_download [--cacert FILE] URL OUTPUT
#include <asiocurl/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>

#include "progress_bar.hpp"

#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

namespace asio = boost::asio;
namespace http = asiocurl::http;
namespace bhttp = boost::beast::http;

asio::awaitable<void> download(asiocurl::multi& multi, std::string url, std::FILE* file,
                               std::string ca_file) {
    http::options opts;
    opts.follow_redirects = true;
    opts.tls.ca_file = std::move(ca_file);
    opts.connect_timeout = std::chrono::seconds(10);
    progress_bar bar(stderr, "download");
    opts.on_progress = std::ref(bar);  // runs on this coroutine's executor, at most every 100 ms

    http::stream body(multi);
    body.start(bhttp::request<bhttp::empty_body>(bhttp::verb::get, url, 11), opts);
    co_await body.async_read_header(asio::use_awaitable);
    if (body.header().result_int() != 200)
        throw std::runtime_error("HTTP " + std::to_string(body.header().result_int()));
    std::array<char, 64 * 1024> chunk;
    for (;;) {
        auto [ec, n] =
            co_await body.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) break;
        if (ec) throw std::runtime_error(ec.message() + ": " + body.header().info.error_message);
        if (std::fwrite(chunk.data(), 1, n, file) != n)
            throw std::runtime_error("write failed");  // curl waits
    }
    std::fprintf(stderr, "%llu bytes in %.2f s, stream buffer peak %zu of %zu bytes\n",
                 static_cast<unsigned long long>(body.header().info.bytes_received),
                 std::chrono::duration<double>(body.header().info.times.total).count(), body.max_buffered(),
                 body.buffer_size());
}

int main(int argc, char** argv) {
    std::string ca_file;
    int arg = 1;
    if (argc > 2 && std::string(argv[1]) == "--cacert") {
        ca_file = argv[2];
        arg = 3;
    }
    if (argc - arg != 2) {
        std::fprintf(stderr, "usage: %s [--cacert FILE] URL OUTPUT\n", argv[0]);
        return 2;
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(argv[arg + 1], "wb"), &std::fclose);
    if (!file) {
        std::perror(argv[arg + 1]);
        return 1;
    }
    asio::io_context ioc;
    asiocurl::multi multi(ioc);
    asio::co_spawn(ioc, download(multi, argv[arg], file.get(), ca_file), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    try {
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

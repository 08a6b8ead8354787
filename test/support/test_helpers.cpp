#include "test_helpers.hpp"

#include "tls_material.hpp"

#include <asiocurl/easy.hpp>
#include <asiocurl/multi.hpp>

#include <netdb.h>
#include <unistd.h>

namespace asiocurl::test {

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return {};
    return name;
}

std::size_t body_counter::write(char*, std::size_t size, std::size_t count, void* self) {
    auto& counter = *static_cast<body_counter*>(self);
    if (counter.completed.load()) counter.calls_after_completion.fetch_add(1);
    counter.bytes.fetch_add(size * count);
    return size * count;
}

void warm_up_process() {
    static const bool done = [] {
        boost::asio::io_context ioc;
        test_server plain;
        test_server secure(test_server::options{.tls = true});
        multi m(ioc);
        easy a, b;
        std::string body_a, body_b;
        a.set(CURLOPT_URL, plain.url("/bytes/10"));
        a.write_to(body_a);
        b.set(CURLOPT_URL, secure.url("/bytes/10"));
        b.set(CURLOPT_CAINFO, tls().ca_file);
        b.write_to(body_b);
        int pending = 2;
        m.async_perform(a, [&](error_code) { --pending; });
        m.async_perform(b, [&](error_code) { --pending; });
        run_until(
            ioc, [&] { return pending == 0; }, std::chrono::seconds(10));
        addrinfo* result = nullptr;
        if (getaddrinfo(host_name().c_str(), nullptr, nullptr, &result) == 0) freeaddrinfo(result);
        return true;
    }();
    (void)done;
}

}  // namespace asiocurl::test

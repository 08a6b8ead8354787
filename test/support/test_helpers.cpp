#include "test_helpers.hpp"

#include "tls_material.hpp"

#include <asiocurl/easy.hpp>
#include <asiocurl/multi.hpp>

#include <new>
#include <string>

namespace asiocurl::test {

via_resolver::via_resolver(const test_server& server)
    : server_(server),
      connect_to_(curl_slist_append(nullptr, ("resolver.test:" + std::to_string(server.port()) +
                                              ":127.1:" + std::to_string(server.port()))
                                                 .c_str())) {
    if (!connect_to_) throw std::bad_alloc();
}

via_resolver::~via_resolver() {
    curl_slist_free_all(connect_to_);
}

std::string via_resolver::url(std::string_view target) const {
    return server_.url_for_host("resolver.test", target);
}

void via_resolver::apply(easy& handle) const {
    handle.set(CURLOPT_CONNECT_TO, connect_to_);
}

bool curl_at_least(unsigned major, unsigned minor, unsigned patch) {
    return curl_version_info(CURLVERSION_NOW)->version_num >= (major << 16 | minor << 8 | patch);
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
        const via_resolver resolver(plain);
        easy a, b, c;
        std::string body_a, body_b, body_c;
        a.set(CURLOPT_URL, plain.url("/bytes/10"));
        a.write_to(body_a);
        b.set(CURLOPT_URL, secure.url("/bytes/10"));
        b.set(CURLOPT_CAINFO, tls().ca_file);
        b.write_to(body_b);
        c.set(CURLOPT_URL, resolver.url("/bytes/10"));
        resolver.apply(c);
        c.write_to(body_c);
        int pending = 3;
        for (easy* handle : {&a, &b, &c})
            m.async_perform(*handle, [&](error_code) { --pending; });
        run_until(
            ioc, [&] { return pending == 0; }, std::chrono::seconds(10));
        return true;
    }();
    (void)done;
}

}  // namespace asiocurl::test

// A service's client for a JSON API: one http::client holds the upstream's base URL, an auth middleware, the
// retry policy and a deadline; the statistics middleware counts every attempt and is printed at exit.
// Usage: asiocurl_service_client BASE_URL ORDER_PATH STATUS_PATH [--token TOKEN] [--log]
//   POSTs a JSON order to ORDER_PATH (it must answer with JSON), then GETs STATUS_PATH's JSON, retried while
//   the upstream answers 502, 503, 504 or 429. --log: one line an attempt on stderr, secrets redacted.
#include <asiocurl/asiocurl.hpp>
#include <asiocurl/http.hpp>
#include <asiocurl/http/client.hpp>
#include <asiocurl/http/client_statistics.hpp>
#include <asiocurl/http/request_log.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace http = asiocurl::http;
namespace json = boost::json;

namespace {

// Adds the upstream's credentials to every attempt (the request log shows the field, never its value).
class bearer_auth final : public http::middleware {
public:
    explicit bearer_auth(std::string token) : value_("Bearer " + std::move(token)) {}
    void before_attempt(const http::attempt_context&,
                        boost::beast::http::request_header<>& request) override {
        request.set(boost::beast::http::field::authorization, value_);
    }

private:
    std::string value_;
};

// A JSON reply, or an exception that says what came instead.
json::value parse_reply(const http::response<>& res) {
    if (res.result_int() != 200)
        throw std::runtime_error("HTTP " + std::to_string(res.result_int()) + " after " +
                                 std::to_string(res.info.attempts) + " attempts");
    return json::parse(res.body());
}

asio::awaitable<void> run(http::client& upstream, std::string order_path, std::string status_path) {
    const json::value order = {{"id", 42}, {"items", json::array{"tea", "milk"}}};
    // with_diagnostics: a failure throws http::fetch_error, whose what() has the URL (no credentials), curl's
    // detail and the attempts.
    auto accepted = co_await upstream.async_post(order_path, json::serialize(order), "application/json",
                                                 http::with_diagnostics(asio::use_awaitable));
    const json::value reply = parse_reply(accepted);
    std::printf("order %lld accepted: %s\n", static_cast<long long>(reply.at("id").as_int64()),
                json::serialize(reply).c_str());

    auto status = co_await upstream.async_get(status_path, http::with_diagnostics(asio::use_awaitable));
    const json::value state = parse_reply(status);
    std::printf("upstream status %s after %u attempts (%zu retried)\n",
                json::value_to<std::string>(state.at("status")).c_str(), status.info.attempts,
                status.info.retried.size());
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string token = "example-token";
    bool log = false;
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--token" && i + 1 < args.size())
            token = args[++i];
        else if (args[i] == "--log")
            log = true;
        else
            positional.push_back(args[i]);
    }
    if (positional.size() != 3) {
        std::fprintf(stderr,
                     "usage: asiocurl_service_client BASE_URL ORDER_PATH STATUS_PATH [--token T] [--log]\n");
        return 2;
    }

    asio::io_context ioc;
    asiocurl::multi multi(ioc);
    auto statistics = std::make_shared<http::client_statistics>();

    http::client_options options;
    options.base_url = positional[0];
    options.headers = {{"Accept", "application/json"}};
    options.retry.max_attempts = 4;
    options.retry.base_delay = std::chrono::milliseconds(50);
    options.retry.max_delay = std::chrono::milliseconds(500);
    options.deadline = std::chrono::seconds(5);
    options.deadline_header = "X-Request-Timeout-Ms";
    options.transfer.connect_timeout = std::chrono::seconds(2);
    options.middleware = {std::make_shared<bearer_auth>(token), statistics};
    if (log)  // last, so that it logs the request as sent
        options.middleware.push_back(std::make_shared<http::request_log>(
            [](const http::log_entry& entry) { std::fprintf(stderr, "%s\n", entry.to_string().c_str()); }));
    http::client upstream(multi, options);

    int status = 0;
    asio::co_spawn(ioc, run(upstream, positional[1], positional[2]), [&](std::exception_ptr failure) {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "asiocurl_service_client: %s\n", e.what());
            status = 1;
        }
    });
    ioc.run();

    for (const auto& [destination, figures] : statistics->snapshot())
        std::printf(
            "%s: %llu calls, %llu attempts, %llu retries, %llu errors, 2xx %llu, 5xx %llu, p50 %.1f ms, "
            "p99 %.1f ms\n",
            destination.c_str(), static_cast<unsigned long long>(figures.calls),
            static_cast<unsigned long long>(figures.attempts),
            static_cast<unsigned long long>(figures.retries), static_cast<unsigned long long>(figures.errors),
            static_cast<unsigned long long>(figures.status_classes[2]),
            static_cast<unsigned long long>(figures.status_classes[5]),
            static_cast<double>(figures.latency.p50.count()) / 1000.0,
            static_cast<double>(figures.latency.p99.count()) / 1000.0);
    return status;
}

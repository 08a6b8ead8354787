// Feeds options::on_progress from CURLOPT_XFERINFOFUNCTION: rate-limited, coalesced, on the operation's
// executor (src/http_stream.cpp).
#ifndef ASIOCURL_HTTP_DETAIL_PROGRESS_REPORTER_HPP
#define ASIOCURL_HTTP_DETAIL_PROGRESS_REPORTER_HPP

#include <asiocurl/http/progress.hpp>

#include <curl/curl.h>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace asiocurl::http::detail {

class progress_reporter : public std::enable_shared_from_this<progress_reporter> {
public:
    // `executor`: where the callback runs (the operation's executor).
    progress_reporter(boost::asio::any_io_executor executor, std::function<void(const progress&)> callback,
                      std::chrono::milliseconds interval);

    // Sets CURLOPT_NOPROGRESS, CURLOPT_XFERINFOFUNCTION and its data (this object, which must outlive the
    // transfer: its owner keeps it).
    void install(CURL* handle);

    // At the transfer's end, on the multi's executor: the figures curl ends with become the last report, and
    // nothing is delivered after it.
    void end(CURL* handle);
    // The last report (`done`), on the operation's executor before its handler runs.
    void report_end();

private:
    static int on_xferinfo(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                           curl_off_t ulnow);
    void deliver();

    boost::asio::any_io_executor executor_;
    std::function<void(const progress&)> callback_;
    std::chrono::milliseconds interval_;

    std::mutex mutex_;  // curl's callback runs on the multi's executor, delivery on the operation's
    progress latest_, last_delivered_;
    std::chrono::steady_clock::time_point last_posted_{};
    bool posted_ = false;    // a delivery is queued: later reports only update `latest_` (no flood)
    bool finished_ = false;  // the last report went out: nothing after it
};

}  // namespace asiocurl::http::detail

#endif

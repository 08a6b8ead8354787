// Progress reports: fed from CURLOPT_XFERINFOFUNCTION, rate-limited and coalesced, delivered on the
// operation's executor (progress_reporter); and made awaitable (progress_watcher).
#include <asiocurl/http/detail/progress_reporter.hpp>
#include <asiocurl/http/progress.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <optional>

namespace asiocurl::http {
namespace detail {
namespace {

std::uint64_t non_negative(curl_off_t value) {
    return value > 0 ? static_cast<std::uint64_t>(value) : 0u;
}

}  // namespace

progress_reporter::progress_reporter(boost::asio::any_io_executor executor,
                                     std::function<void(const progress&)> callback,
                                     std::chrono::milliseconds interval)
    : executor_(std::move(executor)), callback_(std::move(callback)), interval_(interval) {}

void progress_reporter::install(CURL* handle) {
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &progress_reporter::on_xferinfo);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, static_cast<void*>(this));
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

// Inside curl: no curl call, only a post (DESIGN rule 1). curl calls this many times a second while data
// flows; one delivery at a time is queued and each takes the latest figures, at most one per interval.
int progress_reporter::on_xferinfo(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                   curl_off_t ulnow) {
    auto& r = *static_cast<progress_reporter*>(self);
    const progress now{non_negative(dlnow), non_negative(dltotal), non_negative(ulnow), non_negative(ultotal),
                       false};
    std::lock_guard lock(r.mutex_);
    r.latest_ = now;
    if (r.finished_ || r.posted_ || now == r.last_delivered_) return 0;
    const auto time = std::chrono::steady_clock::now();
    if (time - r.last_posted_ < r.interval_) return 0;
    r.posted_ = true;
    r.last_posted_ = time;
    boost::asio::post(r.executor_, [self = r.shared_from_this()] { self->deliver(); });
    return 0;
}

void progress_reporter::deliver() {
    progress report;
    {
        std::lock_guard lock(mutex_);
        posted_ = false;
        if (finished_) return;  // the last report is taken already; this one would be older
        report = latest_;
        last_delivered_ = report;
    }
    callback_(report);
}

void progress_reporter::end(CURL* handle) {
    curl_off_t downloaded = 0, download_total = 0, uploaded = 0, upload_total = 0;
    curl_easy_getinfo(handle, CURLINFO_SIZE_DOWNLOAD_T, &downloaded);
    curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &download_total);
    curl_easy_getinfo(handle, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &upload_total);
    std::lock_guard lock(mutex_);
    finished_ = true;
    latest_ = progress{non_negative(downloaded), non_negative(download_total), non_negative(uploaded),
                       non_negative(upload_total), true};
}

void progress_reporter::report_end() {
    progress last;
    {
        std::lock_guard lock(mutex_);
        if (last_delivered_.done) return;
        // Ended without a transfer's end (refused when it was handed over): the latest figures, done.
        finished_ = true;
        latest_.done = true;
        last = last_delivered_ = latest_;
    }
    callback_(last);
}

}  // namespace detail

// ---- progress_watcher ----

struct progress_watcher::state {
    explicit state(executor_type ex) : executor(std::move(ex)) {}
    executor_type executor;
    std::mutex mutex;
    std::optional<progress> unread;
    bool ended = false;  // the last report (done) was taken
    std::optional<boost::asio::any_completion_handler<void(error_code, progress)>> waiting;
    boost::asio::any_completion_executor work;  // the waiting handler's executor stays busy
    std::uint64_t wait_number = 0;              // which wait a cancellation is for

    // Under the mutex: the waiting handler, its work let go.
    boost::asio::any_completion_handler<void(error_code, progress)> take_waiting() {
        auto handler = std::move(*waiting);
        waiting.reset();
        work = {};
        return handler;
    }
};

// In a waiting handler's cancellation slot. Unlike the operations on a multi, the watcher is fed from any
// thread and bound to no executor of curl's, so this one holds the state weakly (nothing that can dangle
// when Asio leaves it in the user's signal) and completes the wait from whichever thread emits: any type
// ends it, nothing is consumed.
struct progress_watcher::slot_handler {
    std::weak_ptr<progress_watcher::state> state;
    std::uint64_t wait_number;

    void operator()(boost::asio::cancellation_type type) const {
        if (type == boost::asio::cancellation_type::none) return;
        auto s = state.lock();
        if (!s) return;
        std::optional<boost::asio::any_completion_handler<void(error_code, progress)>> handler;
        {
            std::lock_guard lock(s->mutex);
            if (!s->waiting || s->wait_number != wait_number) return;
            handler.emplace(s->take_waiting());
        }
        boost::asio::post(s->executor,
                          boost::asio::append(std::move(*handler),
                                              error_code(boost::asio::error::operation_aborted), progress{}));
    }
};

progress_watcher::progress_watcher(executor_type executor)
    : state_(std::make_shared<state>(std::move(executor))) {}

progress_watcher::executor_type progress_watcher::get_executor() const noexcept {
    return state_->executor;
}

std::function<void(const progress&)> progress_watcher::callback() const {
    return [s = state_](const progress& report) {
        std::optional<boost::asio::any_completion_handler<void(error_code, progress)>> handler;
        {
            std::lock_guard lock(s->mutex);
            if (!s->waiting) {
                s->unread = report;
                return;
            }
            handler.emplace(s->take_waiting());
            s->ended = report.done;
        }
        boost::asio::post(s->executor, boost::asio::append(std::move(*handler), error_code{}, report));
    };
}

void progress_watcher::next(const std::shared_ptr<state>& s,
                            boost::asio::any_completion_handler<void(error_code, progress)> handler) {
    error_code ec;
    progress report;
    {
        std::lock_guard lock(s->mutex);
        if (s->waiting) {
            ec = boost::asio::error::in_progress;
        } else if (s->unread) {
            report = *s->unread;
            s->unread.reset();
            s->ended = report.done;
        } else if (s->ended) {
            ec = boost::asio::error::eof;
        } else {
            s->work = boost::asio::prefer(boost::asio::get_associated_executor(handler, s->executor),
                                          boost::asio::execution::outstanding_work.tracked);
            ++s->wait_number;
            if (auto slot = handler.get_cancellation_slot(); slot.is_connected())
                slot.template emplace<slot_handler>(slot_handler{s, s->wait_number});
            s->waiting.emplace(std::move(handler));
            return;
        }
    }
    boost::asio::post(s->executor, boost::asio::append(std::move(handler), ec, report));
}

}  // namespace asiocurl::http

#ifndef ASIOCURL_HTTP_IMPL_EVENT_STREAM_HPP
#define ASIOCURL_HTTP_IMPL_EVENT_STREAM_HPP

#include <boost/asio/append.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <string_view>

#include <utility>

namespace asiocurl::http {

template <class Executor>
basic_event_stream<Executor>::basic_event_stream(basic_multi<Executor>& multi, url_ref url, options opts,
                                                 event_stream_options settings)
    : multi_(&multi),
      url_(url.text()),
      options_(std::move(opts)),
      settings_(settings),
      parser_(settings.max_event_size),
      reconnect_timer_(multi.get_executor()) {}

template <class Executor>
const response<boost::beast::http::empty_body>& basic_event_stream<Executor>::header() const noexcept {
    static const response<boost::beast::http::empty_body> none;
    return stream_ ? stream_->header() : none;
}

template <class Executor>
void basic_event_stream<Executor>::cancel() {
    reconnect_timer_.cancel();
    if (stream_) stream_->cancel();
    ended_ = true;
    failure_ = boost::asio::error::operation_aborted;
}

// One event: from those already parsed, else read (connecting, or reconnecting after a wait, first).
template <class Executor>
struct basic_event_stream<Executor>::next_op {
    basic_event_stream* es;
    enum class step { start, posted, header, body, wait } at = step::start;

    template <class Self>
    void operator()(Self& self, error_code ec = {}, std::size_t bytes = 0) {
        auto& s = *es;
        switch (at) {
            case step::start:
                // Every type ends this call (a read's cancellation leaves the connection as it is).
                self.reset_cancellation_state(boost::asio::enable_total_cancellation());
                if (!s.ready_.empty() || s.ended_) {
                    // Known now: completed from the executor, never inside async_next.
                    at = step::posted;
                    return boost::asio::post(std::move(self));  // to the handler's executor
                }
                return s.stream_ ? read(self) : connect(self);
            case step::posted:
                if (!s.ready_.empty()) return deliver(self);
                return self.complete(s.failure_, server_sent_event{});
            case step::header:
                return on_header(self, ec);
            case step::body:
                return on_body(self, ec, bytes);
            case step::wait:
                if (ec || self.get_cancellation_state().cancelled() != boost::asio::cancellation_type::none)
                    return self.complete(boost::asio::error::operation_aborted, server_sent_event{});
                ++s.reconnections_;
                return connect(self);
        }
    }

    template <class Self>
    void connect(Self& self) {
        auto& s = *es;
        s.stream_.emplace(*s.multi_, s.settings_.buffer_size);
        s.header_read_ = false;
        s.parser_.reset();
        boost::beast::http::request<boost::beast::http::empty_body> request(boost::beast::http::verb::get,
                                                                            s.url_, 11);
        request.set(boost::beast::http::field::accept, "text/event-stream");
        request.set(boost::beast::http::field::cache_control, "no-cache");
        if (!s.parser_.last_event_id().empty()) request.set("Last-Event-ID", s.parser_.last_event_id());
        error_code ec;
        s.stream_->start(std::move(request), s.options_, ec);
        if (ec) {  // refused before anything was sent (a bad URL is bad next time too): posted, maybe inside
                   // async_next
            s.ended_ = true;
            s.failure_ = ec;
            at = step::posted;
            return boost::asio::post(std::move(self));
        }
        at = step::header;
        s.stream_->async_read_header(std::move(self));
    }

    template <class Self>
    void read(Self& self) {
        auto& s = *es;
        if (!s.header_read_) {
            at = step::header;
            return s.stream_->async_read_header(std::move(self));
        }
        at = step::body;
        s.stream_->async_read_some(boost::asio::buffer(*s.chunk_), std::move(self));
    }

    template <class Self>
    void on_header(Self& self, error_code ec) {
        auto& s = *es;
        if (ec == boost::asio::error::operation_aborted && !s.ended_)
            return self.complete(ec, server_sent_event{});  // this call was cancelled; the connection stays
        if (ec) return reconnect(self, ec);
        s.header_read_ = true;
        const auto& head = s.stream_->header();
        if (head.result_int() == 204) return end(self, boost::asio::error::eof);
        const auto type = head[boost::beast::http::field::content_type];
        constexpr std::string_view event_stream_type = "text/event-stream";  // MIME types ignore case
        if (head.result_int() != 200 || type.size() < event_stream_type.size() ||
            !boost::beast::iequals(type.substr(0, event_stream_type.size()), event_stream_type))
            return end(self, errc::not_an_event_stream);
        read(self);
    }

    template <class Self>
    void on_body(Self& self, error_code ec, std::size_t bytes) {
        auto& s = *es;
        if (bytes > 0) {
            s.parsed_.clear();
            if (auto failed = s.parser_.feed(std::string_view(s.chunk_->data(), bytes), s.parsed_))
                return end(self, failed);
            for (auto& event : s.parsed_)
                s.ready_.push_back(std::move(event));
            if (!s.ready_.empty()) {
                s.failures_in_a_row_ = 0;
                return deliver(self);
            }
        }
        if (ec == boost::asio::error::operation_aborted && !s.ended_)
            return self.complete(ec, server_sent_event{});
        if (ec) return reconnect(self, ec);  // eof too: the standard reconnects when the response ends
        read(self);
    }

    // The connection ended or failed: again after the reconnection time, unless too many failed in a row.
    template <class Self>
    void reconnect(Self& self, error_code why) {
        auto& s = *es;
        s.stream_.reset();
        if (s.ended_) return self.complete(s.failure_, server_sent_event{});
        if (++s.failures_in_a_row_ > s.settings_.max_reconnections) return end(self, why);
        at = step::wait;
        // A day at the most: the server's `retry` is any number of digits, and the timer adds it to a clock.
        s.reconnect_timer_.expires_after(std::min<std::chrono::milliseconds>(
            s.parser_.retry().value_or(s.settings_.reconnection_time), std::chrono::hours(24)));
        s.reconnect_timer_.async_wait(std::move(self));
    }

    template <class Self>
    void end(Self& self, error_code why) {
        auto& s = *es;
        s.ended_ = true;
        s.failure_ = why;
        if (s.stream_) s.stream_->cancel();
        self.complete(why, server_sent_event{});
    }

    template <class Self>
    void deliver(Self& self) {
        auto& s = *es;
        server_sent_event event = std::move(s.ready_.front());
        s.ready_.pop_front();
        self.complete(error_code{}, std::move(event));
    }
};

template <class Executor>
template <class CompletionToken>
auto basic_event_stream<Executor>::async_next(CompletionToken&& token) {
    return boost::asio::async_compose<CompletionToken, void(error_code, server_sent_event)>(
        next_op{this}, token, multi_->get_executor());
}

}  // namespace asiocurl::http

#endif

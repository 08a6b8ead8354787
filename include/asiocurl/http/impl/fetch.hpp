#ifndef ASIOCURL_HTTP_IMPL_FETCH_HPP
#define ASIOCURL_HTTP_IMPL_FETCH_HPP

#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/http/detail/progress_reporter.hpp>
#include <asiocurl/http/detail/transfer.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_range.hpp>

#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

namespace asiocurl::http {
namespace detail {

// Everything one fetch owns, at a stable address (curl's callbacks point at it). The bodies go through
// Beast's own body concepts: the request body's writer produces bytes for curl's read callback, the
// response body's reader takes what curl's write callback delivers.
template <class RequestBody, class RequestFields, class ResponseBody, class ResponseFields>
struct fetch_state {
    using request_type = boost::beast::http::request<RequestBody, RequestFields>;
    using response_type = response<ResponseBody, ResponseFields>;

    fetch_state(request_type req, options o, response_type into)
        : request(std::move(req)), opts(std::move(o)), result(std::move(into)) {}

    easy handle;
    request_type request;
    options opts;
    response_type result;
    response_head head;
    header_list headers;

    std::optional<typename RequestBody::writer> body_source;
    std::vector<boost::asio::const_buffer> pending;  // produced by body_source, not yet copied to curl
    std::size_t pending_index = 0, pending_offset = 0;
    bool source_done = false;

    std::shared_ptr<progress_reporter> progress_report;

    std::optional<typename ResponseBody::reader> body_sink;
    std::size_t received = 0;
    bool too_large = false;
    error_code body_error;

    // `executor`: the operation's, where progress reports run.
    error_code start(boost::asio::any_io_executor executor) {
        request_view view;
        view.method = request.method_string();
        view.target = request.target();
        for (const auto& field : request)
            view.fields.emplace_back(field.name_string(), field.value());
        const auto size = request.payload_size();
        view.has_body = !std::is_same_v<RequestBody, boost::beast::http::empty_body> && (!size || *size > 0);
        if (size) view.body_size = *size;
        if (auto ec = prepare(handle, view, opts, headers, head)) return ec;

        error_code ec;
        handle.set(CURLOPT_WRITEFUNCTION, &fetch_state::on_write, ec);
        if (!ec) handle.set(CURLOPT_WRITEDATA, static_cast<void*>(this), ec);
        if (!ec && view.has_body) {
            body_source.emplace(request.base(), request.body());
            body_source->init(ec);
            if (!ec) handle.set(CURLOPT_READFUNCTION, &fetch_state::on_read, ec);
            if (!ec) handle.set(CURLOPT_READDATA, static_cast<void*>(this), ec);
        }
        if (!ec && opts.on_progress) {
            progress_report = std::make_shared<progress_reporter>(std::move(executor), opts.on_progress,
                                                                  opts.progress_interval);
            progress_report->install(handle, ec);
        }
        return ec;
    }

    // The head is complete once the body starts (or the transfer ends): it goes into the response, then
    // the body's reader is set up.
    void apply_head() {
        result.version(head.version);
        result.result(head.status);  // 0 when no response arrived
        result.reason(head.reason);
        for (const auto& [name, value] : head.fields)
            result.insert(name, value);
    }

    bool open_sink() {
        if (body_sink) return true;
        apply_head();
        body_sink.emplace(result.base(), result.body());
        body_sink->init(boost::none, body_error);
        return !body_error;
    }

    static size_t on_write(char* data, size_t size, size_t count, void* self) {
        auto& s = *static_cast<fetch_state*>(self);
        const size_t length = size * count;
        // Returning less than `length` fails the transfer (CURLE_WRITE_ERROR); memory stays bounded.
        if (s.opts.max_response_size > 0 && s.received + length > s.opts.max_response_size) {
            s.too_large = true;
            return 0;
        }
        if (!s.open_sink()) return 0;
        s.body_sink->put(boost::asio::const_buffer(data, length), s.body_error);
        if (s.body_error) return 0;
        s.received += length;
        return length;
    }

    static size_t on_read(char* buffer, size_t size, size_t count, void* self) {
        auto& s = *static_cast<fetch_state*>(self);
        const size_t capacity = size * count;
        size_t copied = 0;
        while (copied < capacity) {
            if (s.pending_index == s.pending.size()) {
                if (s.source_done) break;
                s.pending.clear();
                s.pending_index = s.pending_offset = 0;
                auto chunk = s.body_source->get(s.body_error);
                if (s.body_error) return CURL_READFUNC_ABORT;
                // The body's writer may have cancelled the fetch or destroyed its multi (DESIGN rule 12): no
                // more of it is asked for.
                if (s.handle.state()->aborted()) return CURL_READFUNC_ABORT;
                if (!chunk) {
                    s.source_done = true;
                    break;
                }
                for (auto piece : boost::beast::buffers_range_ref(chunk->first))
                    s.pending.push_back(piece);
                s.source_done = !chunk->second;
                continue;
            }
            const auto& piece = s.pending[s.pending_index];
            const size_t n = std::min(capacity - copied, piece.size() - s.pending_offset);
            std::memcpy(buffer + copied, static_cast<const char*>(piece.data()) + s.pending_offset, n);
            copied += n;
            s.pending_offset += n;
            if (s.pending_offset == piece.size()) {
                ++s.pending_index;
                s.pending_offset = 0;
            }
        }
        return copied;
    }

    // A failed fetch still carries whatever head arrived (status 0 when none did).
    error_code finish(error_code ec) {
        if (progress_report)
            progress_report->finish(handle);
        else if (opts.on_progress)  // refused before a transfer began: the last report all the same
            opts.on_progress(progress{.done = true});
        ec = size_limited_result(ec, opts, too_large);
        if (body_error) ec = body_error;
        if (ec) {
            if (!body_sink) apply_head();
            collect_info(handle, result.info);
            if (result.info.error_message.empty()) result.info.error_message = ec.message();
            return ec;
        }
        if (!open_sink()) return body_error;
        body_sink->finish(ec);
        collect_info(handle, result.info);
        return ec;
    }
};

template <class State, class Executor>
struct fetch_op {
    basic_multi<Executor>* multi;
    std::unique_ptr<State> state;
    error_code early{};
    bool started = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
        if (!started) {
            started = true;
            // async_compose lets only terminal cancellation through by default. A fetch means by each type
            // what async_perform does (total: only while the transfer has not reached curl), so all three go
            // on.
            self.reset_cancellation_state(boost::asio::enable_total_cancellation());
            early = state->start(boost::asio::any_io_executor(self.get_executor()));
            // Refused before anything was sent: completed from the executor, never inside async_fetch.
            if (early) return boost::asio::post(multi->get_executor(), std::move(self));
            return multi->async_perform(state->handle, std::move(self));
        }
        const error_code result = state->finish(early ? early : ec);
        auto out = std::move(state->result);
        state.reset();  // the handle and buffers go before the handler runs
        self.complete(result, std::move(out));
    }
};

template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken>
auto start_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token) {
    using state_type = fetch_state<RequestBody, RequestFields, ResponseBody, ResponseFields>;
    using response_type = response<ResponseBody, ResponseFields>;
    auto state = std::make_unique<state_type>(std::move(request), std::move(opts), std::move(into));
    return boost::asio::async_compose<CompletionToken, void(error_code, response_type)>(
        fetch_op<state_type, Executor>{&multi, std::move(state)}, token, multi.get_executor());
}

}  // namespace detail

template <class ResponseBody, class Executor, class RequestBody, class RequestFields, class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options opts,
                 CompletionToken&& token) {
    return detail::start_fetch(multi, std::move(request), std::move(opts), response<ResponseBody>(),
                               std::forward<CompletionToken>(token));
}

template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token) {
    return detail::start_fetch(multi, std::move(request), std::move(opts), std::move(into),
                               std::forward<CompletionToken>(token));
}

template <class Executor, class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi, std::string_view url, CompletionToken&& token) {
    boost::beast::http::request<boost::beast::http::empty_body> request(boost::beast::http::verb::get, url,
                                                                        11);
    return async_fetch(multi, std::move(request), options{}, std::forward<CompletionToken>(token));
}

}  // namespace asiocurl::http

#endif

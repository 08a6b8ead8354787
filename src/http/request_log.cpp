// http::request_log (request_log.hpp).
#include <asiocurl/http/fetch_error.hpp>
#include <asiocurl/http/request_log.hpp>

#include <boost/beast/core/string.hpp>

#include <cstdio>

namespace asiocurl::http {
namespace {

template <class Fields>
std::vector<std::pair<std::string, std::string>> redacted_fields(const Fields& fields) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& field : fields) {
        const std::string_view name = field.name_string();
        out.emplace_back(std::string(name), request_log::is_secret(name) ? std::string("[redacted]")
                                                                         : std::string(field.value()));
    }
    return out;
}

void append_fields(std::string& line, std::string_view mark,
                   const std::vector<std::pair<std::string, std::string>>& fields) {
    if (fields.empty()) return;
    line.append(" ").append(mark).append(" ");
    bool first = true;
    for (const auto& [name, value] : fields) {
        if (!first) line.append(", ");
        first = false;
        line.append(name).append(": ").append(value);
    }
}

}  // namespace

bool request_log::is_secret(std::string_view name) noexcept {
    return boost::beast::iequals(name, "authorization") ||
           boost::beast::iequals(name, "proxy-authorization") || boost::beast::iequals(name, "cookie") ||
           boost::beast::iequals(name, "set-cookie");
}

std::string log_entry::to_string() const {
    std::string line = method + " " + url + " -> ";
    if (status != 0)
        line.append(std::to_string(status));
    else
        line.append(error ? error.message() : std::string("no response"));
    char elapsed_text[48];
    std::snprintf(elapsed_text, sizeof elapsed_text, " in %.1f ms",
                  static_cast<double>(elapsed.count()) / 1000.0);
    line.append(elapsed_text);
    line.append(" (attempt ").append(std::to_string(attempt));
    line.append(connection_reused ? ", reused connection" : ", new connection");
    if (error && !error_message.empty()) line.append("; ").append(error_message);
    if (next.retry)
        line.append("; retrying in ")
            .append(std::to_string(next.delay.count()))
            .append(" ms: ")
            .append(http::to_string(next.why));
    else if (next.why != retry_reason::not_retryable)
        line.append("; not retried: ").append(http::to_string(next.why));
    line.append(")");
    append_fields(line, ">", request_fields);
    append_fields(line, "<", response_fields);
    return line;
}

request_log::request_log(std::function<void(const log_entry&)> sink, bool with_fields)
    : sink_(std::move(sink)), with_fields_(with_fields) {}

void request_log::before_attempt(const attempt_context& context,
                                 boost::beast::http::request_header<>& request) {
    if (!with_fields_) return;
    auto fields = redacted_fields(request);
    std::lock_guard lock(mutex_);
    sent_[{context.call, context.attempt}] = std::move(fields);
}

void request_log::after_attempt(const attempt_context& context, const attempt_outcome& outcome) {
    log_entry entry;
    entry.method = std::string(context.method);
    entry.url =
        detail::redacted_url(outcome.info.effective_url.empty() ? context.url : outcome.info.effective_url);
    entry.attempt = context.attempt;
    entry.status = outcome.head.result_int();
    entry.error = outcome.error;
    entry.error_message = outcome.info.error_message;
    entry.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(outcome.elapsed);
    entry.connection_reused = outcome.info.connection_reused && outcome.info.request_sent;
    entry.next = outcome.next;
    if (with_fields_) {
        {
            std::lock_guard lock(mutex_);
            if (auto it = sent_.find({context.call, context.attempt}); it != sent_.end()) {
                entry.request_fields = std::move(it->second);
                sent_.erase(it);
            }
        }
        entry.response_fields = redacted_fields(outcome.head);
    }
    sink_(entry);
}

}  // namespace asiocurl::http

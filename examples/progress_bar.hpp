// A progress display for asiocurl::http::progress reports: a bar redrawn in place on a terminal, plain lines
// (at most one a second, and the last) when the output is a file or a pipe.
#ifndef ASIOCURL_EXAMPLES_PROGRESS_BAR_HPP
#define ASIOCURL_EXAMPLES_PROGRESS_BAR_HPP

#include <asiocurl/http/progress.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <string>

class progress_bar {
public:
    explicit progress_bar(std::FILE* out, std::string label)
        : out_(out),
          label_(std::move(label)),
          terminal_(::isatty(::fileno(out)) != 0),
          start_(std::chrono::steady_clock::now()) {}

    void operator()(const asiocurl::http::progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (!terminal_ && !p.done && now - last_line_ < std::chrono::seconds(1)) return;
        last_line_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double mib = static_cast<double>(p.downloaded) / (1024.0 * 1024.0);
        const double rate = seconds > 0 ? mib / seconds : 0;
        char figures[160];
        if (p.download_total > 0) {
            const double fraction = static_cast<double>(p.downloaded) / static_cast<double>(p.download_total);
            std::snprintf(figures, sizeof figures, "%5.1f%% %8.1f of %.1f MiB %7.1f MiB/s", 100 * fraction,
                          mib, static_cast<double>(p.download_total) / (1024.0 * 1024.0), rate);
            if (terminal_) {
                constexpr int width = 30;
                const int filled = static_cast<int>(fraction * width);
                std::string bar(static_cast<std::size_t>(filled), '#');
                bar.resize(width, ' ');
                std::fprintf(out_, "\r%s [%s] %s", label_.c_str(), bar.c_str(), figures);
            }
        } else {
            std::snprintf(figures, sizeof figures, "%8.1f MiB %7.1f MiB/s", mib, rate);
            if (terminal_) std::fprintf(out_, "\r%s %s", label_.c_str(), figures);
        }
        if (!terminal_) std::fprintf(out_, "%s: %s%s\n", label_.c_str(), figures, p.done ? " (done)" : "");
        if (terminal_ && p.done) std::fputc('\n', out_);
        std::fflush(out_);
    }

private:
    std::FILE* out_;
    std::string label_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_, last_line_{};
};

#endif

// multipart/form-data bodies: the part list, and curl's MIME structure made from it.
#include <asiocurl/http/detail/mime_form.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace asiocurl::http {

multipart& multipart::add_text(std::string name, std::string value, std::string content_type) {
    parts_.push_back(
        {part::kind::text, std::move(name), std::move(value), std::nullopt, std::move(content_type)});
    return *this;
}

multipart& multipart::add_file(std::string name, std::string filename, std::string bytes,
                               std::string content_type) {
    parts_.push_back({part::kind::memory_file, std::move(name), std::move(bytes), std::move(filename),
                      std::move(content_type)});
    return *this;
}

multipart& multipart::add_file_from_disk(std::string name, std::string path, std::string content_type,
                                         std::optional<std::string> filename) {
    parts_.push_back({part::kind::disk_file, std::move(name), std::move(path), std::move(filename),
                      std::move(content_type)});
    return *this;
}

multipart& multipart::add_stream(std::string name, source read, std::optional<std::string> filename,
                                 std::string content_type, std::optional<std::uint64_t> size) {
    parts_.push_back({part::kind::streamed,
                      std::move(name),
                      {},
                      std::move(filename),
                      std::move(content_type),
                      std::move(read),
                      size});
    return *this;
}

bool multipart::replayable() const noexcept {
    return std::none_of(parts_.begin(), parts_.end(),
                        [](const part& p) { return p.what == part::kind::streamed; });
}

namespace detail {
namespace {

bool has_line_break(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// curl's read callback of a streamed part: the part's source, unless the transfer was aborted meanwhile (the
// source may have cancelled the fetch or destroyed the multi: DESIGN rule 12).
std::size_t read_streamed(char* buffer, std::size_t size, std::size_t count, void* arg) {
    auto& part = *static_cast<mime_form::streamed_part*>(arg);
    if (part.handle->aborted()) return CURL_READFUNC_ABORT;
    std::size_t written = 0;
    try {
        written = (*part.read)(buffer, size * count);
    } catch (...) {
        return CURL_READFUNC_ABORT;
    }
    if (part.handle->aborted()) return CURL_READFUNC_ABORT;
    return std::min(written, size * count);
}

}  // namespace

std::unique_ptr<mime_form> mime_form::build(asiocurl::detail::easy_state& handle, const multipart& form,
                                            error_code& ec) {
    auto refuse = [&](error_code why, std::size_t index, const std::string& name, const char* what) {
        std::snprintf(handle.error_buffer, sizeof handle.error_buffer,
                      "asiocurl: multipart part %zu (\"%.64s\"): %s", index,
                      has_line_break(name) ? "" : name.c_str(), what);
        ec = why;
        return std::unique_ptr<mime_form>();
    };
    if (form.parts().empty()) return refuse(errc::invalid_argument, 0, "", "a multipart body has no part");
    std::unique_ptr<mime_form> built(new mime_form);
    built->mime_ = curl_mime_init(handle.handle);
    if (!built->mime_) {
        ec = make_error_code(CURLE_OUT_OF_MEMORY);
        return nullptr;
    }
    built->streamed_.reserve(
        static_cast<std::size_t>(std::count_if(form.parts().begin(), form.parts().end(), [](const auto& p) {
            return p.what == multipart::part::kind::streamed;
        })));
    std::size_t index = 0;
    for (const multipart::part& p : form.parts()) {
        if (has_line_break(p.name) || has_line_break(p.content_type) ||
            (p.filename && has_line_break(*p.filename)))
            return refuse(errc::header_injection, index, p.name,
                          "CR, LF or NUL in its name, file name or type");
        curl_mimepart* part = curl_mime_addpart(built->mime_);
        if (!part) {
            ec = make_error_code(CURLE_OUT_OF_MEMORY);
            return nullptr;
        }
        CURLcode code = curl_mime_name(part, p.name.c_str());
        switch (p.what) {
            case multipart::part::kind::text:
            case multipart::part::kind::memory_file:
                if (code == CURLE_OK) code = curl_mime_data(part, p.data.data(), p.data.size());
                break;
            case multipart::part::kind::disk_file: {
                // curl would find out only as it sends (a read error half-way through the body).
                std::error_code fs_error;
                if (!std::filesystem::is_regular_file(p.data, fs_error))
                    return refuse(errc::invalid_argument, index, p.name, "its file cannot be read");
                if (code == CURLE_OK) code = curl_mime_filedata(part, p.data.c_str());
                if (code == CURLE_READ_ERROR)
                    return refuse(errc::invalid_argument, index, p.name, "its file cannot be read");
                break;
            }
            case multipart::part::kind::streamed:
                if (!p.read)
                    return refuse(errc::invalid_argument, index, p.name, "a streamed part without a source");
                built->streamed_.push_back({&handle, &p.read});
                if (code == CURLE_OK)
                    code = curl_mime_data_cb(part, p.size ? static_cast<curl_off_t>(*p.size) : curl_off_t{-1},
                                             &read_streamed, nullptr, nullptr, &built->streamed_.back());
                break;
        }
        // curl_mime_filedata names the part after the file; an explicit name (even for a file on disk) wins.
        if (code == CURLE_OK && p.filename) code = curl_mime_filename(part, p.filename->c_str());
        if (code == CURLE_OK && !p.content_type.empty()) code = curl_mime_type(part, p.content_type.c_str());
        if (code != CURLE_OK) {
            ec = make_error_code(code);
            return nullptr;
        }
        ++index;
    }
    return built;
}

mime_form::~mime_form() {
    curl_mime_free(mime_);
}

}  // namespace detail
}  // namespace asiocurl::http

// The lifecycle matrix (issue 9): one object dies, or one cancellation arrives, at a point of a transfer's
// life, from a place in the program — generated over
//   face      async_perform, http::async_fetch, http::stream
//   executor  plain io_context, strand
//   victim    the easy, the stream, the multi (destroyed, cancel(), shutdown()), the operation's cancellation
//             signal (terminal, partial, total; it outlives the io_context in every run — destroying it while
//             its operation is pending is what Asio itself forbids), the io_context (after the multi, as the
//             README allows), with the handler owning the state or not
//   place     outside any handler, the operation's own handler, another operation's handler, the transfer's
//             own write / header / read / progress callback, another transfer's write callback, a timer's
//             handler, another thread
//   state     queued (not picked up by the executor yet), added (the server holds the response, or the body
//             is being sent), mid-body (the server stalls after part of it), paused (a stream nobody reads),
//             done
// and checking, for each: the operation's handler ran exactly once with operation_aborted (or was destroyed
// uninvoked once, for the io_context), none of the transfer's callbacks ran after the kill, no byte reached
// the reader's buffer after it, and every fd came back. The cancellation signal is declared before the
// io_context in every run, so it always outlives it.
#include <asiocurl/http.hpp>

#include "test_helpers.hpp"
#include "test_server.hpp"

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

enum class face { perform, fetch, stream };
enum class executor_kind { plain, strand };
enum class victim {
    easy,
    stream,
    stream_cancel,
    multi,
    multi_cancel,
    multi_shutdown,
    signal_terminal,
    signal_partial,
    signal_total,
    io_context,
};
enum class place {
    outside,
    own_handler,
    other_handler,
    write_callback,
    header_callback,
    read_callback,
    progress_callback,
    other_write_callback,
    timer,
    other_thread,
};
enum class state { queued, added, mid_body, paused, done };

const char* name_of(face f) {
    static const char* names[] = {"perform", "fetch", "stream"};
    return names[static_cast<int>(f)];
}
const char* name_of(executor_kind e) {
    return e == executor_kind::plain ? "plain" : "strand";
}
const char* name_of(victim v) {
    static const char* names[] = {"easy",           "stream",   "stream_cancel", "multi", "multi_cancel",
                                  "multi_shutdown", "terminal", "partial",       "total", "io_context"};
    return names[static_cast<int>(v)];
}
const char* name_of(place p) {
    static const char* names[] = {"outside", "own_handler", "other_handler",  "write_cb", "header_cb",
                                  "read_cb", "progress_cb", "other_write_cb", "timer",    "other_thread"};
    return names[static_cast<int>(p)];
}
const char* name_of(state s) {
    static const char* names[] = {"queued", "added", "mid_body", "paused", "done"};
    return names[static_cast<int>(s)];
}

struct scenario {
    face f;
    executor_kind e;
    victim v;
    place p;
    state s;
    bool handler_owns = false;  // the operation's handler owns the easy / stream (the fetch's always does)

    std::string name() const {
        std::string n = std::string(name_of(f)) + "_" + name_of(e) + "_" + name_of(v) + "_at_" + name_of(p) +
                        "_" + name_of(s);
        if (handler_owns) n += "_handler_owns";
        return n;
    }
    bool is_signal() const {
        return v == victim::signal_terminal || v == victim::signal_partial || v == victim::signal_total;
    }
    // Whether the kill itself ends the operation (total once started does not; for a stream, a read's
    // partial or total ends that read only).
    bool ends_operation() const {
        if (v == victim::signal_total) return s == state::queued || f == face::stream;
        return true;
    }
    // Done before the kill, or not ended by it while still queued: the transfer (of 2000 bytes) succeeds.
    bool completes_normally() const { return s == state::done || (s == state::queued && !ends_operation()); }
    // Whether the kill ends the transfer (what the no-callback-afterwards promise is about).
    bool ends_transfer() const {
        if (f == face::stream && (v == victim::signal_partial || v == victim::signal_total)) return false;
        return ends_operation();
    }
};

// gtest prints a parameter by its name (its bytes would include padding, which valgrind rightly flags).
void PrintTo(const scenario& c, std::ostream* out) {
    *out << c.name();
}

// The compatibility rules: which places exist in which state for which face, and which victims each face has.
bool possible(const scenario& c) {
    const bool stream = c.f == face::stream;
    if (c.s == state::paused && !stream) return false;
    if (c.v == victim::easy && c.f != face::perform) return false;
    if ((c.v == victim::stream || c.v == victim::stream_cancel) && !stream) return false;
    // The io_context can only be destroyed from outside; the handler owning the state matters there.
    // (A stream held only by its handlers and sitting paused has no handler left to hold it.)
    if (c.v == victim::io_context) return c.p == place::outside && !(c.handler_owns && c.s == state::paused);
    if (c.handler_owns) return false;
    // A stream's signal is its pending read's: there is none while it sits paused or after the end.
    if (stream && c.is_signal() && (c.s == state::paused || c.s == state::done)) return false;
    switch (c.p) {
        case place::outside:
            return true;
        case place::other_thread:
            return c.s != state::done;
        case place::own_handler:
            return c.s == state::done || (stream && c.s == state::mid_body);
        case place::other_handler:
        case place::other_write_callback:
        case place::timer:
            return c.s == state::added || c.s == state::mid_body || c.s == state::paused;
        case place::write_callback:
            return !stream && c.s == state::mid_body;
        case place::read_callback:
            return !stream && c.s == state::added;
        case place::header_callback:
            return c.f == face::perform && c.s == state::added;
        case place::progress_callback:
            return c.f == face::perform && c.s == state::mid_body;
    }
    return false;
}

std::vector<scenario> all_scenarios() {
    std::vector<scenario> out;
    for (int f = 0; f <= static_cast<int>(face::stream); ++f)
        for (int e = 0; e <= static_cast<int>(executor_kind::strand); ++e)
            for (int v = 0; v <= static_cast<int>(victim::io_context); ++v)
                for (int p = 0; p <= static_cast<int>(place::other_thread); ++p)
                    for (int s = 0; s <= static_cast<int>(state::done); ++s)
                        for (bool owns : {false, true}) {
                            scenario c{static_cast<face>(f),   static_cast<executor_kind>(e),
                                       static_cast<victim>(v), static_cast<place>(p),
                                       static_cast<state>(s),  owns};
                            if (owns && c.f == face::fetch)
                                continue;  // a fetch's handler always owns its state
                            if (possible(c)) out.push_back(c);
                        }
    return out;
}

// The servers every run of the process shares: the transfer under test talks to `target`, the other
// transfers (whose handlers and callbacks are places) to `sibling`.
test::test_server& target_server() {
    static test::test_server server;
    return server;
}
test::test_server& sibling_server() {
    static test::test_server server;
    return server;
}

constexpr std::size_t sent_before_stall = 1000;
constexpr std::size_t upload_size = 64 * 1024;

// ---- Beast bodies whose reader and writer run inside curl's write and read callbacks (the fetch's) ----

class run;

// A response body that counts what its reader gets and fires the write-callback place.
struct probe_body {
    struct value_type {
        run* owner = nullptr;
        std::size_t received = 0;
    };
    class reader {
    public:
        template <bool IsRequest, class Fields>
        reader(bhttp::header<IsRequest, Fields>&, value_type& body) : body_(body) {}
        void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
        template <class Buffers>
        std::size_t put(const Buffers& buffers, error_code& ec);
        void finish(error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

// A request body produced 1 KiB at a time, firing the read-callback place on its first piece.
struct probe_upload_body {
    struct value_type {
        run* owner = nullptr;
        std::string bytes = std::string(upload_size, 'u');
    };
    static std::uint64_t size(const value_type& v) { return v.bytes.size(); }
    class writer {
    public:
        using const_buffers_type = asio::const_buffer;
        template <bool IsRequest, class Fields>
        writer(const bhttp::header<IsRequest, Fields>&, const value_type& body) : body_(body) {}
        void init(error_code& ec) { ec = {}; }
        boost::optional<std::pair<const_buffers_type, bool>> get(error_code& ec);

    private:
        const value_type& body_;
        std::size_t offset_ = 0;
    };
};

// ---- one run of one scenario ----

struct outcome {
    std::atomic<int> calls{0};
    std::atomic<int> destroyed{0};
    error_code ec;
};

// Counts the destruction of the handler holding it.
struct destruction_witness {
    std::shared_ptr<outcome> out;
    explicit destruction_witness(std::shared_ptr<outcome> o) : out(std::move(o)) {}
    destruction_witness(destruction_witness&& other) noexcept : out(std::move(other.out)) {}
    destruction_witness(const destruction_witness&) = delete;
    ~destruction_witness() {
        if (out) out->destroyed.fetch_add(1);
    }
};

class run {
public:
    explicit run(scenario c) : c_(c) {}

    void execute();

    // ---- called by the transfer's callbacks and handlers, on the multi's executor ----
    void on_transfer_callback() {
        if (kill_in_effect_.load()) callbacks_after_kill_.fetch_add(1);
    }
    void body_arrived(std::size_t n) {
        received_ += n;
        if (received_ >= sent_before_stall && c_.f != face::stream) reached_body_ = true;
    }
    void sending() { reached_added_ = true; }
    void maybe_fire(place where) {
        if (where == c_.p && !fired_.load() && ready()) fire();
    }

private:
    struct perform_owner {
        easy handle;
        std::string body;  // the user's memory the write callback appends to
        std::size_t uploaded = 0;
        run* owner = nullptr;
    };
    using stream_ptr = std::shared_ptr<http::stream>;

    bool ready() const;
    void fire();
    void note_stream_at_kill();
    void kill();
    asio::cancellation_slot slot() { return signal_.slot(); }
    void record(error_code ec) {
        outcome_->ec = ec;
        outcome_->calls.fetch_add(1);
    }
    void start_target();
    void read_header(stream_ptr s);
    void read_body(stream_ptr s);
    void start_siblings();
    void monitor();
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds bound);
    void end_operation();
    void tear_down();
    void check();

    static std::size_t perform_write(char* data, std::size_t size, std::size_t count, void* self);
    static std::size_t perform_header(char* data, std::size_t size, std::size_t count, void* self);
    static std::size_t perform_read(char* data, std::size_t size, std::size_t count, void* self);
    static int perform_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t);

    scenario c_;
    std::string url_;

    // Declared before the io_context, so that it outlives it in every run (issue 9, item 5).
    asio::cancellation_signal signal_;
    std::optional<asio::io_context> ioc_{std::in_place, 1};
    asio::any_io_executor executor_;
    std::optional<multi> multi_;
    std::optional<asio::steady_timer> monitor_timer_;

    std::shared_ptr<perform_owner> perform_;
    stream_ptr stream_;
    std::array<char, 4096> read_buffer_{};             // the reads' until the kill
    std::array<char, 4096> after_kill_read_buffer_{};  // theirs afterwards
    bool read_pending_ = false, stream_ended_ = false, stream_alive_after_kill_ = false;
    // A read that completed just before the kill (its handler not run yet) got its bytes before; the '#'
    // written over its buffer at the kill shows any byte that came afterwards.
    bool read_pending_at_kill_ = false;
    error_code stream_end_;
    int stream_ops_issued_ = 0, stream_ops_completed_ = 0;

    std::shared_ptr<outcome> outcome_ = std::make_shared<outcome>();

    // The other transfers: a trickled one whose write callback is a place, and a chain of short ones whose
    // completion handlers are.
    std::unique_ptr<easy> trickled_, chained_;
    std::shared_ptr<std::function<void()>> chain_next_;
    bool stop_siblings_ = false;

    std::atomic<bool> reached_added_{false}, reached_body_{false}, reached_paused_{false},
        reached_done_{false};
    std::size_t received_ = 0;
    std::size_t accepted_before_ = 0;
    std::atomic<bool> fired_{false}, killed_{false};
    // Callbacks are counted from here: the kill itself, or for a signal emitted on another thread, the moment
    // its relay (posted to the executor by the emit) has run there, before which curl may still call back.
    std::atomic<bool> kill_in_effect_{false};
    std::atomic<int> callbacks_after_kill_{0};
    std::thread other_thread_;
};

template <class Buffers>
std::size_t probe_body::reader::put(const Buffers& buffers, error_code& ec) {
    ec = {};
    const std::size_t n = asio::buffer_size(buffers);
    body_.owner->on_transfer_callback();
    body_.received += n;
    body_.owner->body_arrived(n);
    body_.owner->maybe_fire(place::write_callback);
    return n;
}

boost::optional<std::pair<probe_upload_body::writer::const_buffers_type, bool>>
probe_upload_body::writer::get(error_code& ec) {
    ec = {};
    body_.owner->on_transfer_callback();
    const std::size_t n = std::min<std::size_t>(1024, body_.bytes.size() - offset_);
    const asio::const_buffer piece(body_.bytes.data() + offset_, n);
    offset_ += n;
    body_.owner->sending();
    body_.owner->maybe_fire(place::read_callback);
    return std::make_pair(piece, offset_ < body_.bytes.size());
}

// The perform face's callbacks: `o` (the user's object owning the easy) may die in maybe_fire, so nothing of
// it is touched afterwards.
std::size_t run::perform_write(char* data, std::size_t size, std::size_t count, void* self) {
    auto& o = *static_cast<perform_owner*>(self);
    run& r = *o.owner;
    r.on_transfer_callback();
    o.body.append(data, size * count);
    r.body_arrived(size * count);
    r.maybe_fire(place::write_callback);
    return size * count;
}

std::size_t run::perform_header(char*, std::size_t size, std::size_t count, void* self) {
    auto& o = *static_cast<perform_owner*>(self);
    run& r = *o.owner;
    r.on_transfer_callback();
    r.reached_added_ = true;
    r.maybe_fire(place::header_callback);
    return size * count;
}

std::size_t run::perform_read(char* data, std::size_t size, std::size_t count, void* self) {
    auto& o = *static_cast<perform_owner*>(self);
    run& r = *o.owner;
    r.on_transfer_callback();
    const std::size_t n = std::min(size * count, upload_size - o.uploaded);
    std::memset(data, 'u', n);
    o.uploaded += n;
    r.reached_added_ = true;
    r.maybe_fire(place::read_callback);
    return n;
}

int run::perform_progress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto& o = *static_cast<perform_owner*>(self);
    run& r = *o.owner;
    r.on_transfer_callback();
    r.maybe_fire(place::progress_callback);
    return 0;
}

bool run::ready() const {
    switch (c_.s) {
        case state::queued:
            return true;
        case state::added:
            return reached_added_.load();
        case state::mid_body:
            return reached_body_.load();
        case state::paused:
            return reached_paused_.load();
        case state::done:
            return reached_done_.load();
    }
    return false;
}

// A signal may be emitted on any thread, so another thread emits it itself; every other kill belongs to the
// multi's executor, where the other places already are, and another thread posts it there.
void run::fire() {
    if (c_.p != place::other_thread) {
        fired_ = true;
        note_stream_at_kill();
        return kill();
    }
    if (!c_.is_signal()) {
        fired_ = true;
        asio::post(executor_, [this] {
            note_stream_at_kill();
            kill();
        });
        return;
    }
    // (fired_ is set once the note is taken: execute() runs the executor until then.) Queued: the executor
    // runs nothing until this thread is done (execute() waits for it), so the note is taken here.
    if (c_.f == face::stream && c_.s != state::queued) {
        std::promise<void> noted;
        asio::post(executor_, [&] {
            note_stream_at_kill();
            noted.set_value();
        });
        noted.get_future().wait();
    }
    fired_ = true;
    kill();
    // Posted after the emit's relay from this thread: the executor runs it after the relay.
    asio::post(executor_, [this] { kill_in_effect_ = true; });
}

// On the executor, just before the kill: whether a read waits, with a buffer in which a byte written
// afterwards would show.
void run::note_stream_at_kill() {
    if (c_.f != face::stream) return;
    read_pending_at_kill_ = read_pending_;
    stream_alive_after_kill_ = stream_ != nullptr && c_.v != victim::stream;
    if (read_pending_) read_buffer_.fill('#');
}

void run::kill() {
    killed_ = true;
    if (!(c_.p == place::other_thread && c_.is_signal())) kill_in_effect_ = true;
    switch (c_.v) {
        case victim::easy:
            perform_.reset();
            break;
        case victim::stream:
            stream_.reset();
            break;
        case victim::stream_cancel:
            stream_->cancel();
            break;
        case victim::multi:
            multi_.reset();
            break;
        case victim::multi_cancel:
            multi_->cancel();
            break;
        case victim::multi_shutdown:
            multi_->shutdown();
            break;
        case victim::signal_terminal:
            signal_.emit(asio::cancellation_type::terminal);
            break;
        case victim::signal_partial:
            signal_.emit(asio::cancellation_type::partial);
            break;
        case victim::signal_total:
            signal_.emit(asio::cancellation_type::total);
            break;
        case victim::io_context:
            break;  // by execute(), outside
    }
}

void run::start_target() {
    // The perform and fetch handler: records, and is the own-handler place once done.
    auto handler = [this](auto keep_alive) {
        return asio::bind_cancellation_slot(
            slot(), [this, keep_alive, witness = destruction_witness(outcome_)](error_code ec, auto&&...) {
                record(ec);
                reached_done_ = true;
                maybe_fire(place::own_handler);
            });
    };
    switch (c_.f) {
        case face::perform: {
            easy& handle = perform_->handle;
            handle.set(CURLOPT_URL, url_);
            handle.set(CURLOPT_WRITEFUNCTION, &run::perform_write);
            handle.set(CURLOPT_WRITEDATA, perform_.get());
            handle.set(CURLOPT_HEADERFUNCTION, &run::perform_header);
            handle.set(CURLOPT_HEADERDATA, perform_.get());
            handle.set(CURLOPT_XFERINFOFUNCTION, &run::perform_progress);
            handle.set(CURLOPT_XFERINFODATA, perform_.get());
            handle.set(CURLOPT_NOPROGRESS, 0L);
            if (c_.p == place::read_callback) {
                handle.set(CURLOPT_POST, 1L);
                handle.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(upload_size));
                handle.set(CURLOPT_READFUNCTION, &run::perform_read);
                handle.set(CURLOPT_READDATA, perform_.get());
            }
            auto keep = c_.handler_owns ? std::exchange(perform_, nullptr) : nullptr;
            multi_->async_perform(handle, handler(std::move(keep)));
            break;
        }
        case face::fetch: {
            http::response<probe_body> into(bhttp::status::ok, 11, probe_body::value_type{this});
            if (c_.p == place::read_callback) {
                bhttp::request<probe_upload_body> req(bhttp::verb::post, url_, 11);
                req.body().owner = this;
                req.prepare_payload();
                http::async_fetch(*multi_, std::move(req), http::options{}, std::move(into), handler(0));
            } else {
                bhttp::request<bhttp::empty_body> req(bhttp::verb::get, url_, 11);
                http::async_fetch(*multi_, std::move(req), http::options{}, std::move(into), handler(0));
            }
            break;
        }
        case face::stream: {
            auto s = std::make_shared<http::stream>(*multi_, 16 * 1024);
            s->start(bhttp::request<bhttp::empty_body>(bhttp::verb::get, url_, 11));
            if (!c_.handler_owns) stream_ = s;
            read_header(std::move(s));
            break;
        }
    }
}

// The stream's reader: the head, then the body in 4 KiB reads — except in the paused state, where nobody
// reads the body and the transfer pauses. With handler_owns the reads' handlers hold the stream.
void run::read_header(stream_ptr s) {
    ++stream_ops_issued_;
    read_pending_ = true;
    auto& stream = *s;
    stream.async_read_header(
        asio::bind_cancellation_slot(slot(), [this, keep = c_.handler_owns ? std::move(s) : nullptr,
                                              witness = destruction_witness(outcome_)](error_code ec) {
            read_pending_ = false;
            ++stream_ops_completed_;
            record(ec);
            if (ec) {
                stream_ended_ = true;
                stream_end_ = ec;
                return;
            }
            const stream_ptr next = keep ? keep : stream_;
            if (next && c_.s != state::paused) read_body(next);
        }));
}

void run::read_body(stream_ptr s) {
    ++stream_ops_issued_;
    read_pending_ = true;
    auto& stream = *s;
    stream.async_read_some(
        asio::buffer(killed_ ? after_kill_read_buffer_ : read_buffer_),
        asio::bind_cancellation_slot(slot(),
                                     [this, keep = c_.handler_owns ? std::move(s) : nullptr,
                                      witness = destruction_witness(outcome_)](error_code ec, std::size_t n) {
                                         read_pending_ = false;
                                         ++stream_ops_completed_;
                                         record(ec);
                                         if (ec) {
                                             stream_ended_ = true;
                                             stream_end_ = ec;
                                             if (ec == asio::error::eof) {
                                                 reached_done_ = true;
                                                 maybe_fire(place::own_handler);
                                             }
                                             return;
                                         }
                                         body_arrived(n);
                                         const stream_ptr next = keep ? keep : stream_;
                                         if (next) read_body(next);
                                         // Mid-body means: the bytes before the stall were read and the next
                                         // read waits.
                                         if (received_ >= sent_before_stall && c_.s == state::mid_body) {
                                             reached_body_ = true;
                                             maybe_fire(place::own_handler);
                                         }
                                     }));
}

void run::start_siblings() {
    if (c_.p == place::other_write_callback) {
        trickled_ = std::make_unique<easy>();
        trickled_->set(CURLOPT_URL, sibling_server().url("/trickle/100000?chunk=50&interval_ms=3"));
        trickled_->set(
            CURLOPT_WRITEFUNCTION, +[](char*, std::size_t size, std::size_t count, void* self) {
                static_cast<run*>(self)->maybe_fire(place::other_write_callback);
                return size * count;
            });
        trickled_->set(CURLOPT_WRITEDATA, this);
        multi_->async_perform(*trickled_, [](error_code) {});
    }
    if (c_.p == place::other_handler) {
        chained_ = std::make_unique<easy>();
        chained_->set(CURLOPT_URL, sibling_server().url("/bytes/10"));
        chained_->discard_body();
        chain_next_ = std::make_shared<std::function<void()>>([this] {
            if (!multi_ || stop_siblings_) return;
            multi_->async_perform(*chained_, [this](error_code ec) {
                maybe_fire(place::other_handler);
                if (!ec && chain_next_ && *chain_next_) (*chain_next_)();
            });
        });
        (*chain_next_)();
    }
}

// Every 2 ms on the multi's executor: what only the executor may read, made visible to the other places;
// and the timer place itself.
void run::monitor() {
    if (target_server().accepted_connections() > accepted_before_) reached_added_ = true;
    // Paused, and the head read (its completion may be queued when the transfer pauses) has been handled.
    if (stream_ && stream_->pauses() > 0 && !read_pending_) reached_paused_ = true;
    maybe_fire(place::timer);
    if (stop_siblings_ || !monitor_timer_) return;
    monitor_timer_->expires_after(2ms);
    monitor_timer_->async_wait(asio::bind_executor(executor_, [this](error_code ec) {
        if (!ec) monitor();
    }));
}

bool run::run_until(const std::function<bool()>& done, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        ioc_->run_for(2ms);
        if (ioc_->stopped()) ioc_->restart();
    }
    return done();
}

void run::execute() {
    const bool strand = c_.e == executor_kind::strand;
    executor_ = strand ? asio::any_io_executor(asio::make_strand(*ioc_))
                       : asio::any_io_executor(ioc_->get_executor());
    multi_.emplace(executor_);
    monitor_timer_.emplace(executor_);
    accepted_before_ = target_server().accepted_connections();
    switch (c_.s) {
        case state::queued:
        case state::done:
            url_ = target_server().url("/bytes/2000");
            break;
        case state::added:
            // The header-callback place needs a head: it comes, then nothing.
            url_ =
                target_server().url(c_.p == place::header_callback ? "/stall-body/1000000?sent=0" : "/stall");
            break;
        case state::mid_body:
            url_ = target_server().url("/stall-body/1000000?sent=" + std::to_string(sent_before_stall));
            break;
        case state::paused:
            url_ = target_server().url("/bytes/4000000");
            break;
    }
    if (c_.f == face::perform) {
        perform_ = std::make_shared<perform_owner>();
        perform_->owner = this;
    }

    // Queued: started before the executor runs anything, from another thread where the executor allows it.
    if (strand && c_.s == state::queued)
        std::thread([this] { start_target(); }).join();
    else
        start_target();

    if (c_.p == place::other_thread) {
        other_thread_ = std::thread([this] {
            const auto give_up = std::chrono::steady_clock::now() + 10s;
            while (!fired_.load() && std::chrono::steady_clock::now() < give_up) {
                maybe_fire(place::other_thread);
                std::this_thread::sleep_for(1ms);
            }
        });
    }
    if (c_.s == state::queued && c_.p == place::outside) fire();
    // Queued, from another thread: the kill comes before the executor runs anything.
    if (c_.s == state::queued && other_thread_.joinable()) other_thread_.join();
    if (c_.v == victim::io_context && c_.s == state::queued) {
        // Never run: the multi first, then the io_context, with the start operation still queued.
        multi_.reset();
        return tear_down(), check();
    }
    if (c_.s != state::queued) asio::post(executor_, [this] { start_siblings(); });
    asio::post(executor_, [this] { monitor(); });

    const bool reached = run_until(
        [&] {
            if (c_.p == place::outside) maybe_fire(place::outside);
            return fired_.load();
        },
        20s);
    if (other_thread_.joinable()) other_thread_.join();
    ASSERT_TRUE(reached) << "the state was never reached";

    if (c_.v == victim::io_context) {
        // The multi, then the io_context, without running it again: queued handlers die uninvoked.
        stop_siblings_ = true;
        multi_.reset();
        return tear_down(), check();
    }
    // A kill posted from another thread happens, then the operation ends.
    EXPECT_TRUE(run_until([&] { return killed_.load(); }, 10s));
    end_operation();
    tear_down();
    check();
}

// Whatever did not end with the kill (total once started, a stream read's partial or total) is seen going on,
// then ended with a cancel; a stream still there is read until it ends.
void run::end_operation() {
    if (c_.s == state::done) {
        run_until([] { return false; }, 20ms);
        return;
    }
    if (c_.completes_normally()) {
        // Not ended by the kill: the transfer of the queued state succeeds.
    } else if (!c_.ends_operation()) {
        const int completed_at_kill = outcome_->calls.load();
        run_until([] { return false; }, 30ms);
        EXPECT_EQ(outcome_->calls.load(), completed_at_kill)
            << "the operation ended although " << name_of(c_.v) << " does not end it";
        asio::post(executor_, [this] {
            if (multi_) multi_->cancel();
        });
    } else if (!c_.ends_transfer()) {
        run_until([] { return false; }, 30ms);
        asio::post(executor_, [this] {
            if (stream_) stream_->cancel();
        });
    }
    if (c_.f == face::stream) {
        asio::post(executor_, [this] {
            if (stream_ && !read_pending_ && !stream_ended_) read_body(stream_);
        });
        EXPECT_TRUE(run_until([&] { return stream_ended_ || (!stream_ && !read_pending_); }, 10s))
            << "the stream's operations did not end";
    } else {
        EXPECT_TRUE(run_until([&] { return outcome_->calls.load() > 0; }, 10s))
            << "the operation did not end";
    }
}

// Everything goes, on the executor, then the io_context (unless the scenario destroyed it already).
void run::tear_down() {
    stop_siblings_ = true;
    if (ioc_ && c_.v != victim::io_context) {
        asio::post(executor_, [this] {
            stream_.reset();
            perform_.reset();
            chain_next_.reset();
            if (multi_) multi_->cancel();
        });
        run_until([] { return false; }, 20ms);
        multi_.reset();
        run_until([] { return false; }, 10ms);
    }
    trickled_.reset();
    chained_.reset();
    chain_next_.reset();
    stream_.reset();
    perform_.reset();
    monitor_timer_.reset();
    executor_ = {};  // a strand's, which must go before its io_context
    ioc_.reset();
}

void run::check() {
    const bool was_done = c_.completes_normally();
    const int operations = c_.f == face::stream ? stream_ops_issued_ : 1;
    // Every handler object was destroyed exactly once (the witness cannot be copied), invoked or not.
    EXPECT_EQ(outcome_->destroyed.load(), operations);
    if (c_.v == victim::io_context) {
        // Destroyed uninvoked, unless it had run already.
        if (c_.f != face::stream)
            EXPECT_EQ(outcome_->calls.load(), c_.s == state::done ? 1 : 0);
        else
            EXPECT_EQ(outcome_->calls.load(), stream_ops_completed_);
        return;
    }
    if (c_.f == face::stream) {
        EXPECT_EQ(stream_ops_completed_, stream_ops_issued_) << "a stream operation never completed";
        EXPECT_EQ(outcome_->calls.load(), stream_ops_issued_);
        if (was_done) {
            EXPECT_EQ(stream_end_, asio::error::eof) << stream_end_.message();
        } else if (read_pending_at_kill_ || stream_alive_after_kill_) {
            EXPECT_EQ(stream_end_, asio::error::operation_aborted) << stream_end_.message();
        }
        if (read_pending_at_kill_ &&
            std::any_of(read_buffer_.begin(), read_buffer_.end(), [](char ch) { return ch != '#'; }))
            ADD_FAILURE() << "a byte reached the read buffer after the kill";
    } else {
        EXPECT_EQ(outcome_->calls.load(), 1) << "the handler ran " << outcome_->calls.load() << " times";
        if (was_done)
            EXPECT_FALSE(outcome_->ec) << outcome_->ec.message();
        else
            EXPECT_EQ(outcome_->ec, asio::error::operation_aborted) << outcome_->ec.message();
    }
    if (c_.ends_transfer() && !was_done) {
        EXPECT_EQ(callbacks_after_kill_.load(), 0) << "callbacks after the kill";
    }
}

class lifecycle_matrix : public ::testing::TestWithParam<scenario> {
protected:
    static void SetUpTestSuite() {
        test::warm_up_process();
        target_server();
        sibling_server();
    }
};

TEST_P(lifecycle_matrix, run) {
    test::fd_baseline fds;
    {
        run r(GetParam());
        r.execute();
    }
    EXPECT_TRUE(target_server().wait_for_idle(5s)) << "target connections still open";
    EXPECT_TRUE(sibling_server().wait_for_idle(5s)) << "sibling connections still open";
    EXPECT_TRUE(fds.settled());
}

INSTANTIATE_TEST_SUITE_P(matrix, lifecycle_matrix, ::testing::ValuesIn(all_scenarios()),
                         [](const ::testing::TestParamInfo<scenario>& param_info) {
                             return param_info.param.name();
                         });

}  // namespace
}  // namespace asiocurl

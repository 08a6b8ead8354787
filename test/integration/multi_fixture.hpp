// The fixture of the glue's integration tests: an io_context, a test server, the fd baseline, and a multi
// that TearDown destroys before checking that every fd came back.
#ifndef ASIOCURL_TEST_MULTI_FIXTURE_HPP
#define ASIOCURL_TEST_MULTI_FIXTURE_HPP

#include <asiocurl/asiocurl.hpp>

#include "test_helpers.hpp"
#include "test_server.hpp"
#include "tls_material.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>

namespace asiocurl::test {

// A base so that the warm-up runs before the members, and so before the fd baseline is taken.
struct warmed_up_process {
    warmed_up_process() { warm_up_process(); }
};

class multi_test : public ::testing::Test, private warmed_up_process {
protected:
    void TearDown() override {
        m.reset();
        ioc.run_for(std::chrono::milliseconds(20));
        EXPECT_TRUE(server.wait_for_idle(std::chrono::seconds(5))) << "server connections still open";
        EXPECT_TRUE(fds.settled());
    }

    // Runs one transfer to completion on `handle` and returns its error.
    error_code perform(easy& handle, std::chrono::milliseconds bound = std::chrono::seconds(30)) {
        completion done;
        m->async_perform(handle, done.handler());
        EXPECT_TRUE(run_until(
            ioc, [&] { return done.done(); }, bound))
            << "transfer did not complete";
        EXPECT_EQ(done.calls.load(), 1);
        return done.ec;
    }

    boost::asio::io_context ioc{1};
    boost::asio::steady_timer reactor_started{ioc};  // the reactor's own fds exist before the baseline
    test_server server;
    fd_baseline fds;
    std::optional<multi> m{std::in_place, ioc};
};

}  // namespace asiocurl::test

#endif

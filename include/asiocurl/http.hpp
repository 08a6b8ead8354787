// The http layer: Beast messages in, Beast messages out (pulls in Boost.Beast's HTTP headers).
#ifndef ASIOCURL_HTTP_HPP
#define ASIOCURL_HTTP_HPP

#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/event_stream.hpp>
#include <asiocurl/http/fetch.hpp>
#include <asiocurl/http/fetch_error.hpp>
#include <asiocurl/http/form.hpp>
#include <asiocurl/http/multipart.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/progress.hpp>
#include <asiocurl/http/response.hpp>
#include <asiocurl/http/retry.hpp>
#include <asiocurl/http/sse_parser.hpp>
#include <asiocurl/http/stream.hpp>
#include <asiocurl/http/url.hpp>
#include <asiocurl/http/with_diagnostics.hpp>

#endif

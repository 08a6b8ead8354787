// Everything asiocurl offers.
#ifndef ASIOCURL_ASIOCURL_HPP
#define ASIOCURL_ASIOCURL_HPP

#include <asiocurl/easy.hpp>
#include <asiocurl/error.hpp>
#include <asiocurl/multi.hpp>
#include <asiocurl/multi_pool.hpp>
#include <asiocurl/multi_stats.hpp>
#include <asiocurl/share.hpp>

#endif

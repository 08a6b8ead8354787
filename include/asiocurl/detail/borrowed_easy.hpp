#ifndef ASIOCURL_DETAIL_BORROWED_EASY_HPP
#define ASIOCURL_DETAIL_BORROWED_EASY_HPP

#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/easy.hpp>

namespace asiocurl::detail {

// An `easy` for a handle the library owns elsewhere (one lent by a multi's idle pool), for the time of a call
// such as http::options::customize; it lets go of the handle instead of cleaning it up.
class borrowed_easy {
public:
    explicit borrowed_easy(easy_state& state) noexcept : easy_(&state, easy::borrow_tag{}) {}
    borrowed_easy(const borrowed_easy&) = delete;
    borrowed_easy& operator=(const borrowed_easy&) = delete;
    ~borrowed_easy() { (void)easy_.state_.release(); }
    easy& get() noexcept { return easy_; }

private:
    easy easy_;
};

}  // namespace asiocurl::detail

#endif

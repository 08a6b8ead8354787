# Sanitizers apply to the whole build (library, tests, examples) so that every TU agrees on them.
if(ASIOCURL_SANITIZE)
    add_compile_options(-fsanitize=${ASIOCURL_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${ASIOCURL_SANITIZE})
    if(ASIOCURL_SANITIZE MATCHES "thread")
        # g++ 12 warns that TSan does not instrument std::atomic_thread_fence, which Asio's headers use.
        add_compile_options(-Wno-tsan)
    endif()
endif()

# g++ 12 warns about members left out of a designated initializer even when they have default member
# initializers, which is how http::options is meant to be written ({.timeout = 5s}).
function(asiocurl_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wno-missing-field-initializers)
endfunction()

# Installs the built library into a scratch prefix, then builds and runs a consumer that finds it with
# find_package(asiocurl CONFIG), as a user's project would.
file(REMOVE_RECURSE "${WORK_DIR}")
function(step)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT result EQUAL 0)
        message(FATAL_ERROR "step failed (${result}): ${ARGN}\n${out}")
    endif()
endfunction()
step(${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${WORK_DIR}/prefix")
step(${CMAKE_COMMAND} -S "${SOURCE_DIR}/test/cmake_install_test" -B "${WORK_DIR}/build" -G Ninja
     "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
     # the libcurl the library was built against (the system's, or one unpacked by scripts/fetch-curl8.sh)
     "-DCURL_INCLUDE_DIR=${CURL_INCLUDE_DIR}" "-DCURL_LIBRARY=${CURL_LIBRARY}" -DCURL_NO_CURL_CMAKE=ON)
step(${CMAKE_COMMAND} --build "${WORK_DIR}/build")
step("${WORK_DIR}/build/consumer" "${SOURCE_DIR}/test/cmake_install_test/consumer.cpp")
message(STATUS "the installed package builds and runs a consumer")

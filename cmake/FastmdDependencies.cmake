# Finds every third-party dependency from Debian's packages and fails with the
# package to install when one is missing. Nothing is vendored or downloaded.

find_package(PkgConfig QUIET)

function(fastmd_missing what debian_package)
  message(FATAL_ERROR
    "fastmd-ipc needs ${what}: install the Debian package '${debian_package}' "
    "(scripts/setup installs every dependency: sudo scripts/setup)")
endfunction()

find_package(Threads REQUIRED)

# FASTMD_PLATFORM=windows builds the legacy path only, from header-only dependencies: found as
# headers, so one rule serves a Windows machine (vcpkg's include directory on the search path)
# and Debian's cross build (cmake/toolchains/mingw-w64-x86_64.cmake stages Debian's headers).
if(FASTMD_PLATFORM STREQUAL "windows")
  function(fastmd_header_only target header debian_package)
    find_path(${target}_INCLUDE_DIR ${header})
    if(NOT ${target}_INCLUDE_DIR)
      fastmd_missing("${header}" "${debian_package}")
    endif()
    add_library(${target} INTERFACE)
    target_include_directories(${target} SYSTEM INTERFACE ${${target}_INCLUDE_DIR})
  endfunction()
  fastmd_header_only(fastmd_msgpack msgpack.hpp libmsgpack-cxx-dev)
  target_compile_definitions(fastmd_msgpack INTERFACE MSGPACK_NO_BOOST)
  # msgpack-cxx takes its byte-order functions from Winsock on Windows.
  target_link_libraries(fastmd_msgpack INTERFACE ws2_32)
  fastmd_header_only(fastmd_rapidjson rapidjson/document.h rapidjson-dev)
  fastmd_header_only(fastmd_cli11 CLI/CLI.hpp libcli11-dev)
  add_library(CLI11::CLI11 ALIAS fastmd_cli11)
  # spdlog and fmt as headers only: nothing to link, the same code as the compiled libraries.
  fastmd_header_only(fastmd_fmt fmt/format.h libfmt-dev)
  fastmd_header_only(fastmd_spdlog spdlog/spdlog.h libspdlog-dev)
  target_compile_definitions(fastmd_spdlog INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
  target_link_libraries(fastmd_spdlog INTERFACE fastmd_fmt)
  option(FASTMD_MARKDOWN_WORKER "Build fastmd-worker-md (needs md4c-html)" ON)
  if(FASTMD_MARKDOWN_WORKER)
    if(NOT PkgConfig_FOUND)
      message(FATAL_ERROR "fastmd-worker-md finds md4c-html through pkg-config, which was not "
        "found; install it, or configure with -DFASTMD_MARKDOWN_WORKER=OFF")
    endif()
    pkg_check_modules(MD4C_HTML QUIET IMPORTED_TARGET md4c-html)
    if(NOT MD4C_HTML_FOUND)
      message(FATAL_ERROR "fastmd-worker-md needs md4c-html (md4c-html.pc): on Windows, vcpkg's "
        "md4c; or configure with -DFASTMD_MARKDOWN_WORKER=OFF to build the SDK and the example "
        "workers without it")
    endif()
  endif()
  return()
endif()

if(NOT PkgConfig_FOUND)
  fastmd_missing("pkg-config" "pkg-config")
endif()

# Standalone Asio (header-only).
find_path(ASIO_INCLUDE_DIR asio.hpp)
if(NOT ASIO_INCLUDE_DIR)
  fastmd_missing("standalone Asio" "libasio-dev")
endif()
add_library(fastmd_asio INTERFACE)
target_include_directories(fastmd_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(fastmd_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(fastmd_asio INTERFACE Threads::Threads)

# msgpack-cxx (header-only, without Boost).
find_package(msgpack CONFIG QUIET)
if(NOT TARGET msgpackc-cxx)
  fastmd_missing("msgpack-cxx" "libmsgpack-cxx-dev")
endif()
add_library(fastmd_msgpack INTERFACE)
target_link_libraries(fastmd_msgpack INTERFACE msgpackc-cxx)
target_compile_definitions(fastmd_msgpack INTERFACE MSGPACK_NO_BOOST)

find_package(fmt CONFIG QUIET)
if(NOT TARGET fmt::fmt)
  fastmd_missing("fmt" "libfmt-dev")
endif()
find_package(spdlog CONFIG QUIET)
if(NOT TARGET spdlog::spdlog)
  fastmd_missing("spdlog" "libspdlog-dev")
endif()
find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  fastmd_missing("CLI11" "libcli11-dev")
endif()

# toml++: fastmd-ipcd's strict config-file parser (syntax errors and duplicate keys with their
# line; CLI11's own reader accepts both silently).
find_package(tomlplusplus CONFIG QUIET)
if(NOT TARGET tomlplusplus::tomlplusplus)
  fastmd_missing("toml++" "libtomlplusplus-dev")
endif()

# RapidJSON: the legacy NDJSON path and the protocol test vectors.
find_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h)
if(NOT RAPIDJSON_INCLUDE_DIR)
  fastmd_missing("RapidJSON" "rapidjson-dev")
endif()
add_library(fastmd_rapidjson INTERFACE)
target_include_directories(fastmd_rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIR})

pkg_check_modules(MD4C_HTML QUIET IMPORTED_TARGET md4c-html)
if(NOT MD4C_HTML_FOUND)
  fastmd_missing("md4c-html (its md4c-html.pc requires md4c.pc)" "libmd4c-html0-dev libmd4c-dev")
endif()

if(FASTMD_PLATFORM STREQUAL "linux")
  pkg_check_modules(LIBSYSTEMD QUIET IMPORTED_TARGET libsystemd)
  if(NOT LIBSYSTEMD_FOUND)
    fastmd_missing("libsystemd" "libsystemd-dev")
  endif()
elseif(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  # The posix platform layer's getpeereid(3) on Linux (sdk-cpp/CMakeLists.txt).
  pkg_check_modules(LIBBSD_OVERLAY QUIET IMPORTED_TARGET libbsd-overlay)
  if(NOT LIBBSD_OVERLAY_FOUND)
    fastmd_missing("libbsd-overlay" "libbsd-dev")
  endif()
endif()

if(FASTMD_BUILD_TESTS)
  find_package(Catch2 2 CONFIG QUIET)
  if(NOT TARGET Catch2::Catch2)
    fastmd_missing("Catch2 v2" "catch2")
  endif()
endif()

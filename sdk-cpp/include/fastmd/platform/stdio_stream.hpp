// fastmd/platform/stdio_stream.hpp — the legacy path's byte streams: reading requests from a
// process's standard input and writing responses to its standard output (or other fds given
// as such), the only I/O the NDJSON server (fastmd/ipc/stdio_server.hpp) needs. POSIX
// read()/write() on Linux, macOS and FreeBSD; the C runtime's _read()/_write() in binary mode
// on Windows (platform/windows/), where the legacy path is all there is (docs/platforms.md).
#pragma once

#include <cstddef>
#include <span>

#include "fastmd/proto/result.hpp"

namespace fastmd::platform {

/// Makes `input_fd` and `output_fd` carry bytes unchanged, and a reader that goes away an
/// error rather than the end of the process: on Windows, binary mode (no CRLF translation, no
/// Ctrl-Z end of input); on POSIX, SIGPIPE ignored process-wide, so a write to a closed pipe
/// fails with EPIPE. Call once, before serving.
///
///     fastmd::platform::prepare_stdio_streams(0, 1);
void prepare_stdio_streams(int input_fd, int output_fd);

/// Reads what is there, up to `buffer.size()` bytes, waiting for at least one: the count, 0
/// at the end of input, or IO_ERROR naming the call and the reason. Retries interrupted reads.
proto::Result<std::size_t> read_stream(int fd, std::span<std::byte> buffer);

/// Writes all of `bytes`, retrying short and interrupted writes: OK, or IO_ERROR naming the
/// call and the reason (EPIPE when the reader went away).
proto::Status write_stream(int fd, std::span<const std::byte> bytes);

}  // namespace fastmd::platform

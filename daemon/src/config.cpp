// The daemon's options (see config.hpp).
#include "config.hpp"

#include "config_file.hpp"
#include "user_mode.hpp"

namespace fastmd::daemon {

using proto::Errc;
using proto::Error;

void add_options(CLI::App& app, Options& o) {
  // Command line only (configurable(false)): not keys of the config file.
  app.add_option("--config", o.config_file,
                 "read options from this TOML file: each option but --config, --check-config, "
                 "--version and --help is a key (flags given too win); unknown keys and bad "
                 "values are errors with file:line")
      ->check(CLI::ExistingFile)
      ->configurable(false);
  app.add_flag("--check-config", o.check_config,
               "validate the options, print the effective configuration and exit")
      ->configurable(false);
  app.set_version_flag("--version", std::string("fastmd-ipcd ") + FASTMD_VERSION);
  auto* user = app.add_flag("--user", o.user_mode,
                            "run as the per-user daemon that clients start on first use: "
                            "listen on $XDG_RUNTIME_DIR/fastmd/ipcd.sock (else "
                            "/tmp/fastmd-<uid>/ipcd.sock, a 0700 directory of this uid), serve "
                            "the built-in markdown pool (fastmd-worker-md beside this binary, "
                            "started on demand), exit after --idle-exit-s without clients and "
                            "remove every file it made")
                   ->configurable(false);
  app.footer(std::string(pool_keys_help()));

  app.add_option("--socket", o.socket_path,
                 "listen on this socket path (default: $FASTMD_IPC_SOCKET, else "
                 "$XDG_RUNTIME_DIR/fastmd/ipcd.sock, else /run/fastmd/ipcd.sock for root, else "
                 "/tmp/fastmd-<uid>/ipcd.sock); ignored under socket activation")
      ->capture_default_str()
      ->excludes(user);
  app.add_option("--idle-exit-s", o.idle_exit_s,
                 "with --user: exit after this many seconds with no session but its own pool "
                 "workers (0: never)")
      ->envname("FASTMD_IPCD_IDLE_EXIT_S")
      // Name the variable too: a client starts this daemon, and its user set only the variable.
      ->check(CLI::Validator(
          [range = CLI::Range(0u, 86400u)](std::string& value) {
            const std::string error = range(value);
            return error.empty() ? error
                                 : error + " (from --idle-exit-s or $FASTMD_IPCD_IDLE_EXIT_S)";
          },
          "INT in [0 - 86400]"))
      ->capture_default_str();
  app.add_option("--log-level", o.log_level,
                 "trace, debug, info, warn, error, critical or off (SIGHUP reloads)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--allow-uid", o.allow_uids,
                 "also admit peers with this uid (repeatable; the daemon's own uid is always "
                 "admitted, and root as an observer: fastmd-ipcctl status)");
  app.add_option("--allow-gid", o.allow_gids,
                 "also admit peers whose primary or a supplementary gid is this one (repeatable)");
  app.add_option("--drain-timeout-ms", o.drain_timeout_ms,
                 "on SIGTERM, how long queued messages may take to flush before exit; and how "
                 "long a stopping worker answers the calls it holds (sent to workers)")
      ->check(CLI::Range(0u, 60000u))
      ->capture_default_str();

  app.add_option("--pool-size-mib", o.pool_size_mib, "shared-memory pool size in MiB")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{512}))
      ->capture_default_str();
  app.add_option("--segment-size-kib", o.segment_size_kib,
                 "size of the segment each session gets from the pool, in KiB")
      ->check(CLI::Range(std::uint64_t{64}, std::uint64_t{512} * 1024))
      ->capture_default_str();
  app.add_option("--pool-backing", o.pool_backing,
                 "memfd (sealed, Linux) or shm (named /dev/shm/fastmd-* objects)")
      ->check(CLI::IsMember({"memfd", "shm"}))
      ->capture_default_str();
  app.add_option("--max-segments-per-uid", o.max_segments_per_uid,
                 "segments one uid may hold at once (0: no limit below the pool's size)")
      ->capture_default_str();
  app.add_flag("--huge-pages", o.huge_pages,
               "advise transparent huge pages for the segments (madvise MADV_HUGEPAGE)");

  Limits& l = o.limits;
  app.add_option("--handshake-timeout-ms", l.handshake_timeout_ms,
                 "close a connection that has not completed ipc.hello in this time (SIGHUP "
                 "reloads)")
      ->check(CLI::Range(10u, 600000u))
      ->capture_default_str();
  app.add_option("--no-worker-wait-ms", l.no_worker_wait_ms,
                 "how long a client waits for a worker of a method nobody serves (SIGHUP "
                 "reloads)")
      ->check(CLI::Range(0u, 3600000u))
      ->capture_default_str();
  app.add_option("--max-sessions", l.max_sessions, "sessions in all (SIGHUP reloads)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--max-sessions-per-uid", l.max_sessions_per_uid,
                 "sessions of one uid (SIGHUP reloads)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--max-introductions-per-session", l.max_introductions_per_session,
                 "peers one session may be introduced to (SIGHUP reloads)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  app.add_option("--max-queued-bytes-per-session", l.max_queued_bytes_per_session,
                 "bytes queued for a peer that does not read before it is disconnected (SIGHUP "
                 "reloads)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 32))
      ->capture_default_str();
  app.add_option("--max-queued-bytes-per-uid", l.max_queued_bytes_per_uid,
                 "bytes queued for all sessions of one uid (SIGHUP reloads)")
      ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 40))
      ->capture_default_str();
}

PoolOptions Options::pool_options() const {
  PoolOptions pool;
  pool.pool_size = pool_size_mib * kMiB;
  pool.segment_size = segment_size_kib * 1024;
  pool.backing = pool_backing == "shm" ? PoolBacking::shm : PoolBacking::memfd;
  pool.huge_pages = huge_pages;
  pool.max_segments_per_uid = max_segments_per_uid;
  return pool;
}

proto::Status validate(const Options& o) {
  if (o.segment_size_kib % 4 != 0) {
    return Error{Errc::invalid_field, "--segment-size-kib must be a multiple of 4 (whole pages)"};
  }
  if (o.segment_size_kib * 1024 > o.pool_size_mib * 1024 * 1024) {
    return Error{Errc::invalid_field, "--segment-size-kib (" + std::to_string(o.segment_size_kib) +
                                          ") must not exceed --pool-size-mib (" +
                                          std::to_string(o.pool_size_mib) + " MiB)"};
  }
  if (o.limits.max_sessions_per_uid > o.limits.max_sessions) {
    return Error{Errc::invalid_field, "--max-sessions-per-uid must not exceed --max-sessions"};
  }
  if (o.limits.max_queued_bytes_per_session > o.limits.max_queued_bytes_per_uid) {
    return Error{Errc::invalid_field,
                 "--max-queued-bytes-per-session must not exceed --max-queued-bytes-per-uid"};
  }
  return {};
}

proto::Status apply_config_and_validate(CLI::App& app, Options& options) {
  if (!options.config_file.empty()) {
    if (auto applied = apply_config_file(app, options.config_file, options.worker_pools);
        !applied) {
      return applied;
    }
  }
  if (options.user_mode && options.worker_pools.empty()) {
    auto pools = user_mode_default_pools();
    if (!pools) return pools.error();
    options.worker_pools = std::move(*pools);
  }
  return validate(options);
}

proto::Result<Options> reparse(const std::vector<std::string>& argv) {
  Options options;
  CLI::App app;
  add_options(app, options);
  // CLI11 parses a reversed vector of the arguments that follow the program name.
  std::vector<std::string> reversed(argv.rbegin(), argv.rend());
  if (!reversed.empty()) reversed.pop_back();
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return Error{Errc::invalid_field, e.what()};
  }
  if (auto valid = apply_config_and_validate(app, options); !valid) return valid.error();
  return options;
}

namespace {

template <class Id>
std::string toml_array(const std::vector<Id>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string effective_config(const Options& o) {
  const Limits& l = o.limits;
  std::string out;
  const auto line = [&out](std::string_view key, const std::string& value) {
    out.append(key).append(" = ").append(value).append("\n");
  };
  line("socket", toml_string(o.socket_path));
  line("log-level", toml_string(o.log_level));
  line("allow-uid", toml_array(o.allow_uids));
  line("allow-gid", toml_array(o.allow_gids));
  line("drain-timeout-ms", std::to_string(o.drain_timeout_ms));
  line("pool-size-mib", std::to_string(o.pool_size_mib));
  line("segment-size-kib", std::to_string(o.segment_size_kib));
  line("pool-backing", toml_string(o.pool_backing));
  line("max-segments-per-uid", std::to_string(o.max_segments_per_uid));
  line("huge-pages", o.huge_pages ? "true" : "false");
  line("idle-exit-s", std::to_string(o.idle_exit_s));
  line("handshake-timeout-ms", std::to_string(l.handshake_timeout_ms));
  line("no-worker-wait-ms", std::to_string(l.no_worker_wait_ms));
  line("max-sessions", std::to_string(l.max_sessions));
  line("max-sessions-per-uid", std::to_string(l.max_sessions_per_uid));
  line("max-introductions-per-session", std::to_string(l.max_introductions_per_session));
  line("max-queued-bytes-per-session", std::to_string(l.max_queued_bytes_per_session));
  line("max-queued-bytes-per-uid", std::to_string(l.max_queued_bytes_per_uid));
  out += pool_specs_toml(o.worker_pools);
  return out;
}

}  // namespace fastmd::daemon

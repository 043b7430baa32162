// fastmd-ipcd: the broker daemon. Parses options (flags and a TOML config file), then runs the
// Daemon until SIGTERM. `--check-config` prints the effective configuration and exits.
#include <csignal>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "daemon.hpp"
#include "fastmd/ipc/socket_path.hpp"

int main(int argc, char** argv) {
  using namespace fastmd::daemon;
  Options options;
  CLI::App app{"fastmd-ipcd: the fastmd-ipc broker daemon (control plane and shared-memory pools)",
               "fastmd-ipcd"};
  add_options(app, options);
  bool check_config = false;
  app.add_flag("--check-config", check_config,
               "validate the options, print the effective configuration and exit");
  app.set_version_flag("--version", std::string("fastmd-ipcd ") + FASTMD_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (auto valid = validate(options); !valid) {
    std::cerr << "fastmd-ipcd: " << valid.error().message << "\n";
    return 2;
  }
  if (check_config) {
    std::cout << "# effective configuration; the socket resolves to "
              << fastmd::ipc::resolve_socket_path(options.socket_path) << "\n"
              << effective_config(options);
    return 0;
  }

  // Logs go to stderr, which systemd sends to the journal with its own timestamps.
  auto logger = spdlog::stderr_logger_mt("fastmd-ipcd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  spdlog::set_default_logger(logger);
  set_log_level(options.log_level);
  // Writes to a closed peer are errors (MSG_NOSIGNAL), never a signal that kills the daemon.
  std::signal(SIGPIPE, SIG_IGN);

  Daemon daemon(options, std::vector<std::string>(argv, argv + argc));
  if (auto started = daemon.start(); !started) {
    spdlog::critical("cannot start: {}", started.error().to_string());
    return 1;
  }
  return daemon.run();
}

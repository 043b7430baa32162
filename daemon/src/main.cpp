// fastmd-ipcd: the broker daemon. Parses options (flags and a TOML config file), then runs the
// Daemon until SIGTERM. `--check-config` prints the effective configuration and exits.
#include <csignal>
#include <iostream>
#include <sstream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "daemon.hpp"
#include "fastmd/ipc/socket_path.hpp"
#include "user_mode.hpp"

int main(int argc, char** argv) {
  using namespace fastmd::daemon;
  Options options;
  CLI::App app{"fastmd-ipcd: the fastmd-ipc broker daemon (control plane and shared-memory pools)",
               "fastmd-ipcd"};
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Before anything is bound or created: a bad config file leaves no trace but the message.
  if (auto valid = apply_config_and_validate(app, options); !valid) {
    std::istringstream lines(valid.error().message);
    for (std::string line; std::getline(lines, line);) std::cerr << "fastmd-ipcd: " << line << "\n";
    return 2;
  }
  if (options.user_mode) {
    if (auto entered = enter_user_mode(options); !entered) {
      std::cerr << "fastmd-ipcd: " << entered.error().message << "\n";
      return 1;
    }
  }
  if (options.check_config) {
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

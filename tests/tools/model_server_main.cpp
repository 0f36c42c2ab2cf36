// cadre-test-model-server SCRIPT.json [--port N]: the scripted model server
// of the tests (tests/model_server.h) as a program, for recording example
// model traffic by hand. Prints "listening http://127.0.0.1:PORT/v1" once
// it serves, and serves until SIGINT or SIGTERM.
#include <signal.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "model_server.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadUsage = 2;

constexpr char kUsage[] =
    "usage: cadre-test-model-server SCRIPT.json [--port N]\n"
    "  SCRIPT.json: {\"replies\": [{\"text\": \"...\"} | {\"tool_calls\": [{\"name\": \"...\", "
    "\"arguments\": {}}]}\n"
    "               | {\"status\": 429, \"retry_after_s\": 1}, ...]}\n"
    "  a reply may carry when_contains, delay_ms, input_tokens, output_tokens\n";

struct Arguments {
  std::string script;
  int port = 0;
};

bool parse_port(const std::string& text, int* port) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  *port = std::stoi(text);
  return *port >= 1 && *port <= 65535;
}

// False (after printing why) when the command line is wrong.
bool parse_arguments(int argc, char** argv, Arguments* arguments) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string port_text;
    if (arg == "--port") {
      if (i + 1 >= argc) {
        std::cerr << "cadre-test-model-server: --port needs a number\n" << kUsage;
        return false;
      }
      port_text = argv[++i];
    } else if (arg.rfind("--port=", 0) == 0) {
      port_text = arg.substr(7);
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(kExitOk);
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "cadre-test-model-server: unknown option " << arg << "\n" << kUsage;
      return false;
    } else if (arguments->script.empty()) {
      arguments->script = arg;
      continue;
    } else {
      std::cerr << "cadre-test-model-server: one script only (got " << arguments->script << " and "
                << arg << ")\n"
                << kUsage;
      return false;
    }
    if (!parse_port(port_text, &arguments->port)) {
      std::cerr << "cadre-test-model-server: --port: expected a port from 1 to 65535, got '"
                << port_text << "'\n";
      return false;
    }
  }
  if (arguments->script.empty()) {
    std::cerr << kUsage;
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Arguments arguments;
  if (!parse_arguments(argc, argv, &arguments)) return kExitBadUsage;

  std::ifstream in(arguments.script, std::ios::binary);
  if (!in) {
    std::cerr << "cadre-test-model-server: cannot read " << arguments.script << ": "
              << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  std::stringstream text;
  text << in.rdbuf();
  cadre::Result<cadre::testing::ModelServerScript> script =
      cadre::testing::parse_model_server_script(text.str(), arguments.script);
  if (!script.ok()) {
    std::cerr << "cadre-test-model-server: " << script.status().message() << "\n";
    return kExitFailed;
  }

  // Block the stop signals before the server starts its threads (they
  // inherit the mask), so that only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  cadre::testing::ScriptedModelServer server(arguments.port);
  if (server.port() == 0) {
    std::cerr << "cadre-test-model-server: cannot listen on 127.0.0.1:" << arguments.port << "\n";
    return kExitFailed;
  }
  server.embedding_dims = script->embedding_dims;
  for (cadre::testing::ScriptedReply& reply : script->replies) server.push(std::move(reply));
  for (cadre::testing::ScriptedReply& reply : script->embedding_replies)
    server.push_embedding(std::move(reply));
  std::cout << "listening " << server.base_url() << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << "cadre-test-model-server: stopping on signal " << signal_number << " after "
            << server.chat_requests() << " chat and " << server.embedding_requests()
            << " embedding requests; " << server.pending() << " scripted replies unused\n";
  return kExitOk;
}

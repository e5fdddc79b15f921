// security_server: the apiserver alone (no scheduler, controllers or agent linked in), with
// `korral server`'s flags, so the security integration test and auth benchmarks can run
// against a freshly built apiserver without building the whole multi-call binary.
//   security_server server --data-dir D --secure-port P [--disable-agent] [security flags...]
#include <signal.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "korral/apiserver/apiserver.h"
#include "korral/apiserver/security/flags.h"
#include "korral/base/log.h"

int main(int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"korral apiserver only"};
  korral::apiserver::ApiServerConfig c;
  auto* server = app.add_subcommand("server", "Run the apiserver");
  server->add_option("--data-dir", c.data_dir);
  server->add_option("--bind-address", c.bind_address);
  server->add_option("--secure-port", c.secure_port);
  server->add_option("--storage-backend", c.storage_backend);
  server->add_flag_callback("--disable-agent", [] {});
  korral::apiserver::security::AddSecurityFlags(server, &c.security);
  CLI11_PARSE(app, argc, argv);
  auto s = korral::apiserver::ApiServer::Start(c);
  if (!s.ok()) {
    KLOG(Error, "korral server failed to start: {}", s.status().ToString());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  (*s)->Stop();
  return 0;
}

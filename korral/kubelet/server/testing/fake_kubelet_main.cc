// fake_kubelet: the kubelet server with FakeBackend, for integration tests.
//
//   fake_kubelet --data-dir <korral server data dir> --log-dir DIR [--port N]
//                [--kubeconfig F --node-name NODE]
//
// Signs its serving certificate with the cluster CA in <data-dir>/tls, trusts that CA for
// client certificates, prints "PORT <n>" once serving and runs until SIGTERM/SIGINT.
// With --kubeconfig, requests are authenticated and authorized through that API server
// (TokenReview / SubjectAccessReview on nodes/NODE, korral/kubelet/server/auth.h) as the real
// agent does; without it any verified client certificate is allowed.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "korral/base/status.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/kubelet/server/auth.h"
#include "korral/kubelet/server/server.h"
#include "korral/kubelet/server/testing/fake_backend.h"
#include "korral/pki/pki.h"

int main(int argc, char** argv) {
  std::string data_dir, log_dir, kubeconfig, node_name = "fake-node";
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--data-dir") {
      data_dir = argv[i + 1];
    } else if (flag == "--log-dir") {
      log_dir = argv[i + 1];
    } else if (flag == "--kubeconfig") {
      kubeconfig = argv[i + 1];
    } else if (flag == "--node-name") {
      node_name = argv[i + 1];
    } else if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (data_dir.empty() || log_dir.empty()) {
    std::fprintf(stderr, "usage: fake_kubelet --data-dir DIR --log-dir DIR [--port N]\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto pki = korral::pki::LoadClusterPki(data_dir);
  if (!pki.ok()) {
    std::fprintf(stderr, "cannot load PKI: %s\n",
                 std::string(korral::StatusMessage(pki.status())).c_str());
    return 1;
  }
  korral::pki::CertOptions co;
  co.common_name = "fake-kubelet";
  co.ip_addresses = {"127.0.0.1"};
  co.dns_names = {"localhost"};
  co.usage = korral::pki::CertUsage::kServer;
  auto serving = korral::pki::NewSignedCert(pki->ca, co);
  if (!serving.ok()) {
    std::fprintf(stderr, "cannot sign serving cert\n");
    return 1;
  }
  korral::kubelet::server::testing::FakeBackend backend(log_dir);
  korral::kubelet::server::Options o;
  o.port = static_cast<uint16_t>(port);
  o.cert_pem = serving->cert_pem;
  o.key_pem = serving->key_pem;
  o.client_ca_pem = pki->ca.cert_pem;
  o.backend = &backend;
  std::unique_ptr<korral::client::RestClient> client;
  if (!kubeconfig.empty()) {
    auto rc = korral::client::LoadKubeconfig(kubeconfig);
    if (rc.ok()) {
      auto c = korral::client::RestClient::New(*rc);
      if (c.ok()) client = std::move(*c);
    }
    if (!client) {
      std::fprintf(stderr, "cannot load kubeconfig %s\n", kubeconfig.c_str());
      return 1;
    }
    korral::kubelet::server::ApiAuthOptions ao;
    ao.client = client.get();
    ao.node_name = node_name;
    o.authorize = korral::kubelet::server::NewApiAuthorizer(ao);
  }
  auto server = korral::kubelet::server::NewKubeletServer(o);
  if (auto s = server->Start(); !s.ok()) {
    std::fprintf(stderr, "cannot start: %s\n", std::string(korral::StatusMessage(s)).c_str());
    return 1;
  }
  std::printf("PORT %u\n", server->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server->Stop();
  return 0;
}

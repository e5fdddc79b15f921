// korral/kubelet/grpc_probe.h: the grpc probe (upstream pkg/probe/grpc): one
// grpc.health.v1.Health/Check call over plaintext to host:port with the probe's service name.
#pragma once

#include <chrono>
#include <string>

namespace korral::kubelet {

// True when the server answers SERVING. `output` gets upstream's message either way
// ("service healthy", "service unhealthy (responded with \"NOT_SERVING\")", "timeout: failed to
// connect service ...", "this server does not implement the grpc health protocol ...").
bool GrpcHealthProbe(const std::string& host, int port, const std::string& service,
                     std::chrono::milliseconds timeout, std::string* output);

}  // namespace korral::kubelet

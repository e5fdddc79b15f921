#include "korral/kubelet/grpc_probe.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <condition_variable>
#include <mutex>

#include "fmt/format.h"

namespace korral::kubelet {
namespace {

// grpc.health.v1.HealthCheckRequest{string service = 1}, encoded by hand (no generated code).
std::string EncodeRequest(const std::string& service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0a);
  size_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  return out + service;
}

// HealthCheckResponse{ServingStatus status = 1}: the status, 0 (UNKNOWN) when absent.
int DecodeStatus(const std::string& b) {
  size_t i = 0;
  int status = 0;
  while (i < b.size()) {
    uint64_t key = 0;
    int shift = 0;
    while (i < b.size()) {
      uint8_t c = static_cast<uint8_t>(b[i++]);
      key |= static_cast<uint64_t>(c & 0x7f) << shift;
      shift += 7;
      if (!(c & 0x80)) break;
    }
    int wire = static_cast<int>(key & 7);
    uint64_t field = key >> 3;
    if (wire == 0) {
      uint64_t v = 0;
      shift = 0;
      while (i < b.size()) {
        uint8_t c = static_cast<uint8_t>(b[i++]);
        v |= static_cast<uint64_t>(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
      }
      if (field == 1) status = static_cast<int>(v);
    } else if (wire == 2) {
      uint64_t len = 0;
      shift = 0;
      while (i < b.size()) {
        uint8_t c = static_cast<uint8_t>(b[i++]);
        len |= static_cast<uint64_t>(c & 0x7f) << shift;
        shift += 7;
        if (!(c & 0x80)) break;
      }
      i += len;
    } else if (wire == 5) {
      i += 4;
    } else if (wire == 1) {
      i += 8;
    } else {
      break;
    }
  }
  return status;
}

const char* StatusName(int s) {
  switch (s) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "SERVING";
    case 2:
      return "NOT_SERVING";
    case 3:
      return "SERVICE_UNKNOWN";
    default:
      return "UNKNOWN";
  }
}

// Go's codes.Code names, as the error text shows them.
const char* CodeName(grpc::StatusCode c) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int i = static_cast<int>(c);
  return i >= 0 && i < 17 ? kNames[i] : "Unknown";
}

std::string GoDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

}  // namespace

bool GrpcHealthProbe(const std::string& host, int port, const std::string& service,
                     std::chrono::milliseconds timeout, std::string* output) {
  std::string addr = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                         : fmt::format("{}:{}", host, port);
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix("kube-probe/1.32");
  auto channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), args);
  auto deadline = std::chrono::system_clock::now() + timeout;
  if (!channel->WaitForConnected(deadline)) {
    *output = fmt::format(
        "timeout: failed to connect service \"{}\" within {}: context deadline exceeded", addr,
        GoDuration(timeout));
    return false;
  }
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline);
  std::string req = EncodeRequest(service);
  grpc::Slice slice(req);
  grpc::ByteBuffer request(&slice, 1), response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard l(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_all();
                 });
  {
    std::unique_lock l(mu);
    // The call has a deadline; the extra second only bounds the wait on the callback.
    cv.wait_for(l, timeout + std::chrono::seconds(1), [&] { return done; });
    if (!done) {
      ctx.TryCancel();
      cv.wait(l, [&] { return done; });
    }
  }
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      *output = fmt::format(
          "this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
          status.error_message());
    } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      *output = fmt::format("timeout: health rpc did not complete within {}", GoDuration(timeout));
    } else {
      *output = fmt::format("error: health rpc probe failed: rpc error: code = {} desc = {}",
                            CodeName(status.error_code()), status.error_message());
    }
    return false;
  }
  std::vector<grpc::Slice> slices;
  std::string body;
  if (response.Dump(&slices).ok()) {
    for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  int st = DecodeStatus(body);
  if (st != 1) {
    *output = fmt::format("service unhealthy (responded with \"{}\")", StatusName(st));
    return false;
  }
  *output = "service healthy";
  return true;
}

}  // namespace korral::kubelet

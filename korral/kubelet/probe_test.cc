// grpc probes against a real gRPC server with grpc++'s health service, and the projected token
// refresh rule.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include "korral/kubelet/grpc_probe.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(GrpcProbeTest, ServingNotServingUnknownAndUnreachable) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder b;
  // Any callback service makes the server poll (the health service alone does not).
  grpc::CallbackGenericService generic;
  b.RegisterCallbackGenericService(&generic);
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  auto* health = server->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
  health->SetServingStatus("ok-svc", true);
  health->SetServingStatus("bad-svc", false);
  std::string out;
  EXPECT_TRUE(GrpcHealthProbe("127.0.0.1", port, "", seconds(2), &out)) << out;
  EXPECT_EQ(out, "service healthy");
  EXPECT_TRUE(GrpcHealthProbe("127.0.0.1", port, "ok-svc", seconds(2), &out)) << out;
  EXPECT_FALSE(GrpcHealthProbe("127.0.0.1", port, "bad-svc", seconds(2), &out));
  EXPECT_EQ(out, "service unhealthy (responded with \"NOT_SERVING\")");
  EXPECT_FALSE(GrpcHealthProbe("127.0.0.1", port, "nope", seconds(2), &out));
  EXPECT_NE(out.find("NotFound"), std::string::npos) << out;
  server->Shutdown();
  server.reset();
  EXPECT_FALSE(GrpcHealthProbe("127.0.0.1", port, "", milliseconds(300), &out));
  EXPECT_EQ(out.rfind("timeout: failed to connect service \"127.0.0.1:", 0), 0u) << out;
}

TEST(TokenRefreshTest, AtEightyPercentOfTheLifetimeOrAfterADay) {
  auto exp = std::chrono::system_clock::from_time_t(1767225600);
  // A one-hour token: fresh until 48 min after issue (12 min before expiry).
  EXPECT_FALSE(TokenNeedsRefresh(exp, 3600, exp - std::chrono::minutes(13)));
  EXPECT_TRUE(TokenNeedsRefresh(exp, 3600, exp - std::chrono::minutes(11)));
  // A 2-day token: refreshed 24 h after issue.
  EXPECT_FALSE(TokenNeedsRefresh(exp, 2 * 86400, exp - std::chrono::hours(25)));
  EXPECT_TRUE(TokenNeedsRefresh(exp, 2 * 86400, exp - std::chrono::hours(23)));
}

}  // namespace
}  // namespace korral::kubelet

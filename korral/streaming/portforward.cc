// korral/streaming/portforward.cc: see portforward.h.
#include "korral/streaming/portforward.h"

#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/streaming/spdy.h"

namespace korral::streaming {
namespace {

struct Pair {
  std::shared_ptr<spdy::Stream> error;
  std::shared_ptr<spdy::Stream> data;
  uint16_t port = 0;
  bool started = false;
};

void Forward(Pair pair, const PortDialer& dial, const std::string& target) {
  auto conn = dial(pair.port);
  if (!conn.ok()) {
    std::string msg = "error forwarding port " + std::to_string(pair.port) + " to " + target +
                      ": " + std::string(StatusMessage(conn.status()));
    KLOG(Info, "portforward: {}", msg);
    (void)pair.error->Write(msg);
    (void)pair.error->CloseWrite();
    pair.data->Reset(spdy::kCancel);
    return;
  }
  http::Conn& c = **conn;
  std::thread to_pod([&] {
    std::string buf(32 * 1024, '\0');
    while (true) {
      auto n = pair.data->Read(buf.data(), buf.size());
      if (!n.ok()) {
        c.Close();  // reset by the client: drop the pod connection
        return;
      }
      if (*n == 0) {
        c.CloseWrite();
        return;
      }
      if (!c.Write(std::string_view(buf.data(), *n)).ok()) return;
    }
  });
  std::string buf(32 * 1024, '\0');
  while (true) {
    auto n = c.Read(buf.data(), buf.size());
    if (!n.ok() && !absl::IsCancelled(n.status())) {
      // E.g. the runtime's port-forward reported a failure: tell the client.
      (void)pair.error->Write("error forwarding port " + std::to_string(pair.port) + " to " +
                              target + ": " + std::string(StatusMessage(n.status())));
    }
    if (!n.ok() || *n == 0) break;
    if (!pair.data->Write(std::string_view(buf.data(), *n)).ok()) break;
  }
  (void)pair.data->CloseWrite();
  to_pod.join();
  c.Close();
  (void)pair.error->CloseWrite();
}

}  // namespace

void ServePortForward(http::ConnPtr conn, PortDialer dial, const std::string& target) {
  auto session = std::make_shared<spdy::Session>(std::move(conn), /*server=*/true);
  std::mutex mu;
  std::map<std::string, Pair> pairs;
  std::vector<std::thread> workers;
  absl::Status st = session->Run([&](std::shared_ptr<spdy::Stream> s) {
    std::string type = spdy::HeaderValue(s->headers(), "streamtype");
    std::string port_text = spdy::HeaderValue(s->headers(), "port");
    std::string request_id = spdy::HeaderValue(s->headers(), "requestid");
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if ((type != "error" && type != "data") || ec != std::errc() ||
        ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      KLOG(Info, "portforward: rejecting stream (streamtype \"{}\", port \"{}\")", type, port_text);
      s->Reset(spdy::kProtocolError);
      return;
    }
    (void)s->Reply();
    std::lock_guard lock(mu);
    Pair& p = pairs[request_id];
    (type == "error" ? p.error : p.data) = s;
    p.port = static_cast<uint16_t>(port);
    if (p.error && p.data && !p.started) {
      p.started = true;
      Pair copy = p;
      pairs.erase(request_id);
      workers.emplace_back([copy, &dial, &target] { Forward(copy, dial, target); });
    }
  });
  if (!st.ok()) KLOG(Debug, "portforward: session ended: {}", StatusMessage(st));
  session->Close();
  std::vector<std::thread> done;
  {
    std::lock_guard lock(mu);
    done.swap(workers);
  }
  for (auto& t : done) t.join();
}

}  // namespace korral::streaming

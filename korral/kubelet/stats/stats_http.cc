#include "korral/kubelet/stats/stats_http.h"

#include "korral/kubelet/stats/summary.h"

namespace korral::kubelet::stats {

http::Handler NewStatsHandler(const Sampler* sampler) {
  return [sampler](http::Request& req) {
    http::Response resp;
    if (req.method != "GET" && req.method != "HEAD") {
      resp.status = 405;
      resp.content_type = "text/plain; charset=utf-8";
      resp.body = "405 method not allowed\n";
      return resp;
    }
    std::string_view target = req.target;
    auto q = target.find('?');
    std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
    StatsResponse r = ServeStatsPath(*sampler, req.path, query);
    resp.status = r.status;
    resp.content_type = std::move(r.content_type);
    resp.body = std::move(r.body);
    return resp;
  };
}

}  // namespace korral::kubelet::stats

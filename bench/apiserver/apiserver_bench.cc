// bench/apiserver/apiserver_bench.cc: end-to-end load generator for `korral server`.
//
// Spawns the server as a child process (fresh temp data dir, free 127.0.0.1 port) and measures:
//   1. cold start: spawn -> first 200 from /readyz, median over --starts fresh servers;
//   2. idle RSS (VmRSS) --idle-wait-ms after ready;
//   3. watch fan-out: --watchers watches on the namespace, each on its own TLS connection, all
//      driven by --watch-threads asio threads; server RSS before/after -> memory per idle watch;
//      then --updates merge patches --update-interval-ms apart, each carrying its send time
//      (system_clock ns) in an annotation; every watcher records receive - send per event;
//   4. pod creates/s from --clients keep-alive TLS connections over --threads io_contexts;
//   5. pod gets/s over the same connections;
//   6. full namespace list latency.
// The watch phase runs on the idle server (before the creates) so that the per-watch memory
// delta is not drowned by allocator churn from the 20k-pod phases.
//
// Every loop is bounded by a count and a deadline. Prints a table and a one-line JSON summary
// ("JSON: {...}"; also written to --json-out). Exit code 0 when every phase ran (targets missed
// or not), 1 on setup failure.
//
// The client is built to stay cheap next to the server on a 2-core machine: one TLS handshake
// per connection, request bytes serialized before the clock starts, C++20 coroutines on one
// io_context per thread, and the watch stream scanned for two annotation values rather than
// parsed into a DOM.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before Boost: asio/awaitable.hpp in 1.74 uses std::exchange
#include <vector>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "korral/base/status.h"

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---- options ------------------------------------------------------------------------------------

struct Options {
  std::string korral;                    // path of the korral binary (required)
  std::vector<std::string> server_args;  // extra args for `korral server`
  std::string namespace_name = "default";
  int starts = 5;
  int idle_wait_ms = 3000;
  int clients = 32;
  int threads = 2;
  int pods = 20000;
  int create_seconds = 60;
  int gets = 200000;
  int get_seconds = 10;
  int lists = 5;
  int list_seconds = 60;
  int watchers = 1000;
  int watch_threads = 1;
  int updates = 50;
  int update_interval_ms = 20;
  int watch_settle_ms = 2000;
  std::string json_out;
  bool keep_data = false;
};

constexpr char kUsage[] = R"(usage: apiserver_bench --korral=PATH [options]
  --korral=PATH             korral binary to spawn (`PATH server ...`)
  --server-arg=ARG          extra argument for `korral server` (repeatable)
  --namespace=NS            namespace for pods (default: default; created if missing)
  --starts=N                cold starts to time (5)
  --idle-wait-ms=MS         wait before sampling idle RSS (3000)
  --clients=C               keep-alive TLS connections for creates/gets (32)
  --threads=T               client io threads for creates/gets (2)
  --pods=N                  pods to create (20000)
  --create-seconds=S        time bound of the create phase (60)
  --gets=N                  gets to issue (200000)
  --get-seconds=S           time bound of the get phase (10)
  --lists=N                 full lists to time (5)
  --list-seconds=S          time bound of the list phase (60)
  --watchers=W              concurrent watches, one TLS connection each (1000; 0 skips)
  --watch-threads=T         client io threads driving the watches (1)
  --updates=U               pod updates observed by the watchers (50)
  --update-interval-ms=MS   spacing of the updates (20)
  --watch-settle-ms=MS      wait before each RSS sample of the watch phase (2000)
  --json-out=FILE           also write the JSON summary to FILE
  --keep-data               keep the temp data dirs
)";

bool ParseInt(std::string_view s, int* out) {
  if (s.empty()) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
    if (v > 100000000) return false;
  }
  *out = v;
  return true;
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  struct IntFlag {
    const char* name;
    int* value;
  };
  const IntFlag ints[] = {{"starts", &o.starts},
                          {"idle-wait-ms", &o.idle_wait_ms},
                          {"clients", &o.clients},
                          {"threads", &o.threads},
                          {"pods", &o.pods},
                          {"create-seconds", &o.create_seconds},
                          {"gets", &o.gets},
                          {"get-seconds", &o.get_seconds},
                          {"lists", &o.lists},
                          {"list-seconds", &o.list_seconds},
                          {"watchers", &o.watchers},
                          {"watch-threads", &o.watch_threads},
                          {"updates", &o.updates},
                          {"update-interval-ms", &o.update_interval_ms},
                          {"watch-settle-ms", &o.watch_settle_ms}};
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError("help");
    if (arg.substr(0, 2) != "--") return absl::InvalidArgumentError(fmt::format("bad arg {}", arg));
    arg.remove_prefix(2);
    std::string name(arg), value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    if (name == "keep-data") {
      o.keep_data = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(fmt::format("--{} needs a value", name));
      value = argv[++i];
    }
    if (name == "korral") {
      o.korral = value;
    } else if (name == "server-arg") {
      o.server_args.push_back(value);
    } else if (name == "namespace") {
      o.namespace_name = value;
    } else if (name == "json-out") {
      o.json_out = value;
    } else {
      bool found = false;
      for (const IntFlag& f : ints) {
        if (name != f.name) continue;
        if (!ParseInt(value, f.value)) {
          return absl::InvalidArgumentError(fmt::format("--{}: not a number: {}", name, value));
        }
        found = true;
      }
      if (!found) return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    }
  }
  if (o.korral.empty()) return absl::InvalidArgumentError("--korral=PATH is required");
  if (o.clients < 1 || o.threads < 1 || o.watch_threads < 1) {
    return absl::InvalidArgumentError("--clients, --threads and --watch-threads must be >= 1");
  }
  return o;
}

// ---- small utilities ----------------------------------------------------------------------------

int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Percentiles {
  size_t n = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};

// Nearest-rank percentiles of latencies given in nanoseconds (sorts `ns`).
Percentiles Summarize(std::vector<int64_t>& ns) {
  Percentiles p;
  p.n = ns.size();
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(ns.size())));
    rank = std::clamp<size_t>(rank, 1, ns.size());
    return static_cast<double>(ns[rank - 1]) / 1e6;
  };
  p.p50_ms = at(0.50);
  p.p90_ms = at(0.90);
  p.p99_ms = at(0.99);
  p.max_ms = static_cast<double>(ns.back()) / 1e6;
  return p;
}

Json ToJson(const Percentiles& p) {
  return {{"n", p.n},
          {"p50_ms", p.p50_ms},
          {"p90_ms", p.p90_ms},
          {"p99_ms", p.p99_ms},
          {"max_ms", p.max_ms}};
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// VmRSS of `pid` in KiB, or -1.
int64_t RssKiB(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// utime + stime of `pid` in seconds, or -1.
double CpuSeconds(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // Fields after the command: state(3) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

absl::StatusOr<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError("bind 127.0.0.1:0");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string TailFile(const std::string& path, size_t bytes) {
  std::ifstream f(path);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

// ---- the server process -------------------------------------------------------------------------

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() { Kill(); }

  // Creates a temp data dir, picks a free port and forks/execs `korral server`. The child gets
  // SIGKILL if this thread dies. Returns the steady time just before fork.
  absl::Status Spawn(const Options& o) {
    char tmpl[] = "/tmp/korral-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
    dir_ = tmpl;
    keep_data_ = o.keep_data;
    KORRAL_ASSIGN_OR_RETURN(port_, FreePort());
    log_path_ = dir_ + "/server.log";
    std::vector<std::string> args = {
        o.korral,         "server",    "--data-dir",    dir_,
        "--bind-address", "127.0.0.1", "--secure-port", std::to_string(port_),
        "--disable-agent"};
    args.insert(args.end(), o.server_args.begin(), o.server_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return absl::InternalError("cannot open server log");
    spawned_at_ = SteadyClock::now();
    pid_t pid = fork();
    if (pid < 0) {
      close(log_fd);
      return absl::InternalError("fork failed");
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(log_fd);
    pid_ = pid;
    return absl::OkStatus();
  }

  // True while the child runs; reaps it otherwise.
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM, then SIGKILL after 5 s; removes the data dir unless --keep-data.
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      auto deadline = SteadyClock::now() + std::chrono::seconds(5);
      int status = 0;
      while (waitpid(pid_, &status, WNOHANG) == 0) {
        if (SteadyClock::now() > deadline) {
          kill(pid_, SIGKILL);
          waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(milliseconds(5));
      }
      pid_ = -1;
    }
    if (!dir_.empty() && !keep_data_) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
    dir_.clear();
  }

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  const std::string& log_path() const { return log_path_; }
  SteadyClock::time_point spawned_at() const { return spawned_at_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = 0;
  bool keep_data_ = false;
  std::string dir_, log_path_;
  SteadyClock::time_point spawned_at_;
};

// One unauthenticated GET /readyz over a fresh TLS connection; the status code, or 0 if the
// server is not reachable yet. Bounded to 2 s.
awaitable<int> ProbeReadyz(tcp::endpoint ep, ssl::context* ctx, int* out) {
  auto ex = co_await asio::this_coro::executor;
  ssl::stream<tcp::socket> s(ex, *ctx);
  co_await s.next_layer().async_connect(ep, use_awaitable);
  co_await s.async_handshake(ssl::stream_base::client, use_awaitable);
  std::string req = fmt::format(
      "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n", ep.port());
  co_await asio::async_write(s, asio::buffer(req), use_awaitable);
  beast::flat_buffer buf;
  http::response<http::string_body> resp;
  co_await http::async_read(s, buf, resp, use_awaitable);
  *out = resp.result_int();
  co_return *out;
}

// Polls /readyz every 5 ms until 200; returns spawn -> 200 in seconds.
absl::StatusOr<double> WaitReady(ServerProcess& server, std::chrono::seconds timeout) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);  // the CA does not exist before the server writes it
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port()));
  auto deadline = server.spawned_at() + timeout;
  while (SteadyClock::now() < deadline) {
    if (!server.Alive()) {
      return absl::FailedPreconditionError(fmt::format("server exited during start; log tail:\n{}",
                                                       TailFile(server.log_path(), 2000)));
    }
    asio::io_context io;
    int status = 0;
    asio::co_spawn(io, ProbeReadyz(ep, &ctx, &status), [](std::exception_ptr, int) {});
    io.run_for(std::chrono::seconds(2));
    if (status == 200) return Seconds(SteadyClock::now() - server.spawned_at());
    std::this_thread::sleep_for(milliseconds(5));
  }
  return absl::DeadlineExceededError(fmt::format("/readyz not 200 within {} s; log tail:\n{}",
                                                 timeout.count(),
                                                 TailFile(server.log_path(), 2000)));
}

// Loads the CA and the admin client certificate from DIR/admin.kubeconfig (the *-data fields),
// falling back to DIR/tls/{ca.crt,admin.crt,admin.key}.
absl::Status LoadClientTls(const std::string& dir, ssl::context* tls) {
  std::ifstream f(dir + "/admin.kubeconfig");
  std::string line, ca, cert, key;
  auto field = [&line](std::string_view name, std::string* out) {
    size_t pos = line.find(name);
    if (pos == std::string::npos) return;
    std::string v = line.substr(pos + name.size());
    v.erase(std::remove_if(v.begin(), v.end(), [](char c) { return c == '"' || c == ' '; }),
            v.end());
    std::string decoded;
    if (absl::Base64Unescape(v, &decoded)) *out = decoded;
  };
  while (std::getline(f, line)) {
    field("certificate-authority-data:", &ca);
    field("client-certificate-data:", &cert);
    field("client-key-data:", &key);
  }
  boost::system::error_code ec;
  if (!ca.empty() && !cert.empty() && !key.empty()) {
    tls->add_certificate_authority(asio::buffer(ca), ec);
    if (!ec) tls->use_certificate_chain(asio::buffer(cert), ec);
    if (!ec) tls->use_private_key(asio::buffer(key), ssl::context::pem, ec);
    if (ec) return absl::FailedPreconditionError("kubeconfig TLS material: " + ec.message());
    return absl::OkStatus();
  }
  tls->load_verify_file(dir + "/tls/ca.crt", ec);
  if (!ec) tls->use_certificate_chain_file(dir + "/tls/admin.crt", ec);
  if (!ec) tls->use_private_key_file(dir + "/tls/admin.key", ssl::context::pem, ec);
  if (ec) return absl::FailedPreconditionError("loading " + dir + "/tls/*: " + ec.message());
  return absl::OkStatus();
}

// ---- HTTP/1.1 over keep-alive TLS ---------------------------------------------------------------

struct Target {
  tcp::endpoint endpoint;
  ssl::context* tls = nullptr;
  std::string host;  // Host header
};

// A complete serialized request, so that the measured loop only writes bytes.
std::string BuildRequest(std::string_view method, std::string_view path, std::string_view host,
                         std::string_view content_type = {}, std::string_view body = {}) {
  std::string r;
  r.reserve(body.size() + path.size() + 200);
  fmt::format_to(std::back_inserter(r),
                 "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: korral-apiserver-bench\r\n"
                 "Accept: application/json\r\n",
                 method, path, host);
  if (!content_type.empty())
    fmt::format_to(std::back_inserter(r), "Content-Type: {}\r\n", content_type);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    fmt::format_to(std::back_inserter(r), "Content-Length: {}\r\n", body.size());
  }
  r += "\r\n";
  r.append(body);
  return r;
}

// One keep-alive client connection, used from a single io_context thread. Errors throw
// boost::system::system_error (caught by the loops that drive it).
class Conn {
 public:
  Conn(asio::io_context* io, const Target* target) : io_(io), target_(target) {}

  awaitable<void> Connect() {
    Close();
    stream_.emplace(*io_, *target_->tls);
    co_await stream_->next_layer().async_connect(target_->endpoint, use_awaitable);
    stream_->next_layer().set_option(tcp::no_delay(true));
    co_await stream_->async_handshake(ssl::stream_base::client, use_awaitable);
    buffer_.clear();
  }

  // Writes `request` and reads the response; returns the status code. Reconnects first if the
  // previous response closed the connection. `body` (optional) receives the response body.
  awaitable<int> RoundTrip(std::string_view request, std::string* body = nullptr) {
    if (!stream_) co_await Connect();
    co_await asio::async_write(*stream_, asio::buffer(request.data(), request.size()),
                               use_awaitable);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 32);
    parser.header_limit(64 * 1024);
    co_await http::async_read(*stream_, buffer_, parser, use_awaitable);
    int status = parser.get().result_int();
    if (body) *body = std::move(parser.get().body());
    if (!parser.get().keep_alive()) Close();
    co_return status;
  }

  void Close() {
    if (!stream_) return;
    boost::system::error_code ec;
    stream_->next_layer().shutdown(tcp::socket::shutdown_both, ec);
    stream_->next_layer().close(ec);
    stream_.reset();
  }

 private:
  asio::io_context* io_;
  const Target* target_;
  std::optional<ssl::stream<tcp::socket>> stream_;
  beast::flat_buffer buffer_;
};

// A blocking client for setup requests, patches and lists, on its own io_context.
class SyncClient {
 public:
  explicit SyncClient(const Target* target) : target_(target), conn_(&io_, target) {}

  // Returns the status code (0 on a transport error, message in *body).
  int Do(std::string_view method, std::string_view path, std::string_view content_type = {},
         std::string_view body = {}, std::string* response = nullptr) {
    std::string req = BuildRequest(method, path, target_->host, content_type, body);
    return DoRaw(req, response);
  }

  int DoRaw(const std::string& req, std::string* response) {
    int status = 0;
    std::string err;
    asio::co_spawn(io_, conn_.RoundTrip(req, response), [&](std::exception_ptr e, int s) {
      if (!e) {
        status = s;
        return;
      }
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        err = ex.what();
      }
    });
    io_.run_for(std::chrono::seconds(120));
    if (!io_.stopped()) {  // timed out: abort and drain so the handler above has run
      conn_.Close();
      io_.run_for(std::chrono::seconds(5));
    }
    io_.restart();
    if (status == 0) {
      conn_.Close();
      if (response) *response = err.empty() ? "timeout" : err;
    }
    return status;
  }

 private:
  const Target* target_;
  asio::io_context io_;
  Conn conn_;
};

// ---- closed-loop load over a pool of connections ------------------------------------------------

struct ConnStats {
  std::vector<int64_t> latency_ns;
  int64_t ok = 0, errors = 0;
  std::string first_error;
};

struct LoadResult {
  int64_t ok = 0, errors = 0;
  double seconds = 0;
  double server_cpu_s = 0, client_cpu_s = 0;
  Percentiles latency;
  std::string first_error;
  double per_second() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// `clients` connections spread round-robin over `threads` io_contexts, each with its own thread
// while a phase runs. Connections persist across phases.
class Pool {
 public:
  Pool(const Target* target, int clients, int threads) {
    for (int t = 0; t < threads; ++t) ios_.push_back(std::make_unique<asio::io_context>(1));
    for (int c = 0; c < clients; ++c) {
      conns_.push_back(std::make_unique<Conn>(ios_[c % threads].get(), target));
    }
  }

  // Connects every connection (TLS handshakes happen here, outside any measured phase).
  absl::Status ConnectAll() {
    std::atomic<int> failed{0};
    for (size_t c = 0; c < conns_.size(); ++c) {
      asio::co_spawn(*ios_[c % ios_.size()], conns_[c]->Connect(), [&failed](std::exception_ptr e) {
        if (e) failed++;
      });
    }
    RunThreads(SteadyClock::now() + std::chrono::seconds(30));
    if (failed > 0) return absl::UnavailableError(fmt::format("{} connects failed", failed.load()));
    return absl::OkStatus();
  }

  // Issues requests `request(i)` for i in [0, count) from every connection in a closed loop until
  // all are done or `duration` passes; a response with `expected_status` counts as ok.
  LoadResult Run(size_t count, std::chrono::seconds duration,
                 const std::function<std::string_view(size_t)>& request, int expected_status,
                 std::vector<char>* ok_mask, pid_t server_pid) {
    next_ = 0;
    count_ = count;
    request_ = &request;
    expected_ = expected_status;
    ok_mask_ = ok_mask;
    stats_.assign(conns_.size(), ConnStats{});
    for (ConnStats& s : stats_) s.latency_ns.reserve(count / conns_.size() + 16);
    double server_cpu0 = CpuSeconds(server_pid), client_cpu0 = SelfCpuSeconds();
    auto start = SteadyClock::now();
    deadline_ = start + duration;
    for (size_t c = 0; c < conns_.size(); ++c) {
      asio::co_spawn(*ios_[c % ios_.size()], Loop(conns_[c].get(), &stats_[c]), asio::detached);
    }
    RunThreads(deadline_ + std::chrono::seconds(30));
    LoadResult r;
    r.seconds = Seconds(SteadyClock::now() - start);
    r.server_cpu_s = CpuSeconds(server_pid) - server_cpu0;
    r.client_cpu_s = SelfCpuSeconds() - client_cpu0;
    std::vector<int64_t> all;
    all.reserve(count);
    for (ConnStats& s : stats_) {
      r.ok += s.ok;
      r.errors += s.errors;
      if (r.first_error.empty()) r.first_error = s.first_error;
      all.insert(all.end(), s.latency_ns.begin(), s.latency_ns.end());
    }
    r.latency = Summarize(all);
    return r;
  }

 private:
  awaitable<void> Loop(Conn* conn, ConnStats* stats) {
    std::string body;
    for (;;) {
      size_t i = next_.fetch_add(1, std::memory_order_relaxed);
      if (i >= count_ || SteadyClock::now() >= deadline_) break;
      std::string_view req = (*request_)(i);
      auto t0 = SteadyClock::now();
      int status = 0;
      std::string err;
      try {
        status = co_await conn->RoundTrip(req, &body);
      } catch (const std::exception& e) {
        err = e.what();
        conn->Close();
      }
      auto t1 = SteadyClock::now();
      if (status == expected_) {
        stats->ok++;
        stats->latency_ns.push_back((t1 - t0).count());
        if (ok_mask_) (*ok_mask_)[i] = 1;
      } else {
        stats->errors++;
        if (stats->first_error.empty()) {
          stats->first_error = status ? fmt::format("HTTP {}: {}", status, body.substr(0, 300))
                                      : fmt::format("transport: {}", err);
        }
      }
    }
  }

  // Runs every io_context on its own thread until its work is done; past `hard_deadline` the
  // connections are closed so that a hung server cannot hang the benchmark.
  void RunThreads(SteadyClock::time_point hard_deadline) {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < ios_.size(); ++t) {
      threads.emplace_back([this, t, hard_deadline] {
        asio::io_context& io = *ios_[t];
        while (!io.stopped() && SteadyClock::now() < hard_deadline) {
          io.run_for(milliseconds(500));
        }
        if (!io.stopped()) {
          for (size_t c = t; c < conns_.size(); c += ios_.size()) conns_[c]->Close();
          io.run_for(std::chrono::seconds(2));
        }
        io.restart();
      });
    }
    for (std::thread& th : threads) th.join();
  }

  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<ConnStats> stats_;
  std::atomic<size_t> next_{0};
  size_t count_ = 0;
  const std::function<std::string_view(size_t)>* request_ = nullptr;
  int expected_ = 200;
  std::vector<char>* ok_mask_ = nullptr;
  SteadyClock::time_point deadline_;
};

// ---- pods ---------------------------------------------------------------------------------------

std::string PodName(size_t i) { return fmt::format("bench-{:06d}", i); }

// A realistic ~1 KB Deployment-style pod.
std::string PodJson(const std::string& name, const std::string& ns) {
  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels",
         {{"app", "bench-web"}, {"tier", "frontend"}, {"pod-template-hash", "7c9f8d6b5"}}},
        {"annotations",
         {{"bench.korral.io/owner", "apiserver-bench"}, {"kubernetes.io/config.source", "api"}}}}},
      {"spec",
       {{"containers",
         {{{"name", "web"},
           {"image", "registry.k8s.io/nginx-slim:0.27"},
           {"imagePullPolicy", "IfNotPresent"},
           {"command", {"nginx"}},
           {"args", {"-g", "daemon off;"}},
           {"ports", {{{"name", "http"}, {"containerPort", 80}, {"protocol", "TCP"}}}},
           {"env",
            {{{"name", "LOG_LEVEL"}, {"value", "info"}},
             {{"name", "WORKERS"}, {"value", "4"}},
             {{"name", "POD_NAME"},
              {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
           {"resources",
            {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}},
             {"limits", {{"cpu", "500m"}, {"memory", "256Mi"}}}}},
           {"volumeMounts",
            {{{"name", "config"}, {"mountPath", "/etc/nginx/conf.d"}, {"readOnly", true}}}},
           {"readinessProbe",
            {{"httpGet", {{"path", "/healthz"}, {"port", 80}}},
             {"initialDelaySeconds", 2},
             {"periodSeconds", 5}}}}}},
        {"volumes", {{{"name", "config"}, {"configMap", {{"name", "web-config"}}}}}},
        {"restartPolicy", "Always"},
        {"terminationGracePeriodSeconds", 30},
        {"dnsPolicy", "ClusterFirst"},
        {"nodeSelector", {{"kubernetes.io/os", "linux"}}},
        {"tolerations",
         {{{"key", "node.kubernetes.io/not-ready"},
           {"operator", "Exists"},
           {"effect", "NoExecute"},
           {"tolerationSeconds", 300}}}}}}};
  return pod.dump();
}

// ---- watch fan-out ------------------------------------------------------------------------------

constexpr std::string_view kSeqKey = "\"bench.korral.io/seq\":";
constexpr std::string_view kSentKey = "\"bench.korral.io/sent-ns\":";

// Reads the integer (possibly quoted) following `key` in `s`.
bool FindInt(std::string_view s, std::string_view key, int64_t* out) {
  size_t pos = s.find(key);
  if (pos == std::string_view::npos) return false;
  pos += key.size();
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '"')) ++pos;
  int64_t v = 0;
  size_t start = pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') v = v * 10 + (s[pos++] - '0');
  if (pos == start) return false;
  *out = v;
  return true;
}

// Incremental HTTP/1.1 chunked-transfer decoder: Feed raw body bytes, get payload bytes back.
class ChunkDecoder {
 public:
  // Appends the payload in [data, data+n) to *out. Returns false on a framing error.
  bool Feed(const char* data, size_t n, std::string* out) {
    for (size_t i = 0; i < n;) {
      char c = data[i];
      switch (state_) {
        case State::kSize:
          if (std::isxdigit(static_cast<unsigned char>(c))) {
            size_ = size_ * 16 + static_cast<size_t>(
                                     std::isdigit(static_cast<unsigned char>(c))
                                         ? c - '0'
                                         : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
          } else if (c == ';') {
            state_ = State::kExtension;
          } else if (c == '\n') {
            state_ = size_ == 0 ? State::kEnd : State::kData;
          } else if (c != '\r') {
            return false;
          }
          ++i;
          break;
        case State::kExtension:
          if (c == '\n') state_ = size_ == 0 ? State::kEnd : State::kData;
          ++i;
          break;
        case State::kData: {
          size_t take = std::min(size_, n - i);
          out->append(data + i, take);
          i += take;
          size_ -= take;
          if (size_ == 0) state_ = State::kDataEnd;
          break;
        }
        case State::kDataEnd:
          if (c == '\n') state_ = State::kSize;
          ++i;
          break;
        case State::kEnd:
          return true;
      }
    }
    return true;
  }
  bool ended() const { return state_ == State::kEnd; }

 private:
  enum class State { kSize, kExtension, kData, kDataEnd, kEnd };
  State state_ = State::kSize;
  size_t size_ = 0;
};

struct Watcher {
  std::unique_ptr<ssl::stream<tcp::socket>> stream;
  size_t io = 0;  // index of the io_context that owns `stream`
  bool headers_done = false;
  bool chunked = false;
  int status = 0;
  std::string head;     // response head until the blank line
  std::string pending;  // decoded payload not yet split into lines
  ChunkDecoder decoder;
  std::vector<uint8_t> seen;        // per update seq
  std::vector<int64_t> latency_ns;  // receive - send, per delivered update
  int64_t events = 0, duplicates = 0;
};

struct WatchShared {
  std::atomic<int> requested{0}, established{0}, failed{0};
  std::atomic<int64_t> delivered{0};
  std::atomic<bool> stopping{false};
  int updates = 0;
  std::mutex mu;
  std::string first_error;  // guarded by mu

  void Fail(const std::string& error) {
    failed++;
    std::lock_guard<std::mutex> l(mu);
    if (first_error.empty()) first_error = error;
  }
};

class WatchFleet {
 public:
  WatchFleet(const Target* target, int watchers, int threads, int updates, std::string path)
      : target_(target), path_(std::move(path)) {
    shared_.updates = updates;
    for (int t = 0; t < threads; ++t) ios_.push_back(std::make_unique<asio::io_context>(1));
    watchers_.resize(watchers);
    for (Watcher& w : watchers_) w.seen.assign(updates, 0);
    request_ = BuildRequest("GET", path_, target_->host);
  }

  ~WatchFleet() { Stop(); }

  // Opens the watches with bounded concurrency (64 handshakes in flight) on background threads.
  void Start() {
    constexpr int kOpeners = 64;
    for (int k = 0; k < kOpeners; ++k) {
      asio::co_spawn(*ios_[k % ios_.size()], Opener(k % ios_.size()), asio::detached);
    }
    for (auto& io : ios_) {
      guards_.emplace_back(asio::make_work_guard(*io));
      threads_.emplace_back([io = io.get()] { io->run(); });
    }
  }

  // Closes every watch and joins the threads. Idempotent.
  void Stop() {
    if (threads_.empty()) return;
    shared_.stopping = true;
    for (size_t t = 0; t < ios_.size(); ++t) {
      asio::post(*ios_[t], [this, t] {
        for (Watcher& w : watchers_) {
          if (!w.stream || w.io != t) continue;
          boost::system::error_code ec;
          w.stream->next_layer().shutdown(tcp::socket::shutdown_both, ec);
          w.stream->next_layer().close(ec);
        }
      });
    }
    guards_.clear();
    for (auto& io : ios_) {
      // Bounded: anything still pending after the sockets closed is abandoned.
      asio::post(*io, [] {});
    }
    for (std::thread& th : threads_) th.join();
    threads_.clear();
    for (Watcher& w : watchers_) w.stream.reset();
  }

  WatchShared& shared() { return shared_; }
  std::vector<Watcher>& watchers() { return watchers_; }

 private:
  awaitable<void> Opener(size_t io) {
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= static_cast<int>(watchers_.size()) || shared_.stopping) co_return;
      // Each watcher lives on the io_context of the opener that opens it.
      Watcher& w = watchers_[i];
      auto ex = co_await asio::this_coro::executor;
      w.io = io;
      w.stream = std::make_unique<ssl::stream<tcp::socket>>(ex, *target_->tls);
      try {
        co_await w.stream->next_layer().async_connect(target_->endpoint, use_awaitable);
        w.stream->next_layer().set_option(tcp::no_delay(true));
        co_await w.stream->async_handshake(ssl::stream_base::client, use_awaitable);
        co_await asio::async_write(*w.stream, asio::buffer(request_), use_awaitable);
      } catch (const std::exception& e) {
        shared_.Fail(e.what());
        continue;
      }
      shared_.requested++;
      asio::co_spawn(ex, Reader(&w), asio::detached);
    }
  }

  awaitable<void> Reader(Watcher* w) {
    std::vector<char> buf(16 * 1024);
    try {
      for (;;) {
        size_t n = co_await w->stream->async_read_some(asio::buffer(buf), use_awaitable);
        int64_t now = SystemNowNs();
        if (!Consume(w, buf.data(), n, now)) break;
      }
    } catch (const std::exception& e) {
      if (!shared_.stopping) shared_.Fail(e.what());
    }
  }

  // Returns false when the stream is unusable.
  bool Consume(Watcher* w, const char* data, size_t n, int64_t now) {
    if (!w->headers_done) {
      w->head.append(data, n);
      size_t end = w->head.find("\r\n\r\n");
      if (end == std::string::npos) return w->head.size() < 64 * 1024;
      std::string head = w->head.substr(0, end);
      std::string rest = w->head.substr(end + 4);
      w->head.clear();
      w->headers_done = true;
      if (head.size() > 12) w->status = std::atoi(head.c_str() + 9);
      std::string lower = head;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      w->chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
      if (w->status != 200) {
        shared_.Fail(fmt::format("HTTP {}: {}", w->status, rest.substr(0, 300)));
        return false;
      }
      shared_.established++;
      return rest.empty() || Consume(w, rest.data(), rest.size(), now);
    }
    size_t scanned = w->pending.size();
    if (w->chunked) {
      if (!w->decoder.Feed(data, n, &w->pending)) {
        shared_.Fail("bad chunked framing");
        return false;
      }
    } else {
      w->pending.append(data, n);
    }
    size_t line_start = 0;
    for (size_t nl = w->pending.find('\n', scanned); nl != std::string::npos;
         nl = w->pending.find('\n', line_start)) {
      OnEvent(w, std::string_view(w->pending).substr(line_start, nl - line_start), now);
      line_start = nl + 1;
    }
    w->pending.erase(0, line_start);
    return !w->decoder.ended();
  }

  void OnEvent(Watcher* w, std::string_view line, int64_t now) {
    if (line.empty()) return;
    w->events++;
    int64_t seq = 0, sent = 0;
    if (!FindInt(line, kSeqKey, &seq) || !FindInt(line, kSentKey, &sent)) return;
    if (seq < 0 || seq >= shared_.updates) return;
    if (w->seen[seq]) {
      w->duplicates++;
      return;
    }
    w->seen[seq] = 1;
    w->latency_ns.push_back(now - sent);
    shared_.delivered.fetch_add(1, std::memory_order_relaxed);
  }

  const Target* target_;
  std::string path_, request_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::vector<Watcher> watchers_;
  std::atomic<int> next_{0};
  WatchShared shared_;
};

// korral_watch_cache_watchers from /metrics, or -1.
int64_t ServerWatcherGauge(SyncClient& client) {
  std::string body;
  if (client.Do("GET", "/metrics", {}, {}, &body) != 200) return -1;
  size_t pos = body.find("\nkorral_watch_cache_watchers ");
  if (pos == std::string::npos) return -1;
  return std::atoll(body.c_str() + pos + 29);
}

template <class Pred>
bool WaitFor(Pred pred, milliseconds timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (!pred()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

// ---- report -------------------------------------------------------------------------------------

struct Row {
  std::string metric, value, target;
  int verdict;  // 1 meets, 0 misses, -1 no target
};

std::string Verdict(int v) { return v > 0 ? "ok" : v == 0 ? "MISS" : ""; }

void PrintTable(const std::vector<Row>& rows) {
  size_t w0 = 6, w1 = 5, w2 = 6;
  for (const Row& r : rows) {
    w0 = std::max(w0, r.metric.size());
    w1 = std::max(w1, r.value.size());
    w2 = std::max(w2, r.target.size());
  }
  fmt::print("\n{:<{}}  {:>{}}  {:<{}}  {}\n", "metric", w0, "value", w1, "target", w2, "");
  fmt::print("{}\n", std::string(w0 + w1 + w2 + 10, '-'));
  for (const Row& r : rows) {
    fmt::print("{:<{}}  {:>{}}  {:<{}}  {}\n", r.metric, w0, r.value, w1, r.target, w2,
               Verdict(r.verdict));
  }
}

// ---- phases -------------------------------------------------------------------------------------

struct Bench {
  Options o;
  Json summary = Json::object();
  std::vector<Row> rows;

  void Add(std::string metric, std::string value, std::string target = {}, int verdict = -1) {
    rows.push_back({std::move(metric), std::move(value), std::move(target), verdict});
  }

  absl::Status ColdStarts() {
    std::vector<double> samples;
    for (int i = 0; i < o.starts; ++i) {
      ServerProcess server;
      KORRAL_RETURN_IF_ERROR(server.Spawn(o));
      KORRAL_ASSIGN_OR_RETURN(double s, WaitReady(server, std::chrono::seconds(60)));
      samples.push_back(s * 1000);
      fmt::print("cold start {}: {:.1f} ms\n", i + 1, s * 1000);
      std::fflush(stdout);
    }
    if (samples.empty()) return absl::OkStatus();
    double median = Median(samples);
    summary["cold_start_ms"] = {{"samples", samples}, {"median", median}};
    Add("cold start to /readyz (median)", fmt::format("{:.0f} ms", median), "<= 1000 ms",
        median <= 1000);
    return absl::OkStatus();
  }

  absl::Status Main() {
    ServerProcess server;
    KORRAL_RETURN_IF_ERROR(server.Spawn(o));
    KORRAL_ASSIGN_OR_RETURN(double ready_s, WaitReady(server, std::chrono::seconds(60)));
    fmt::print("server pid {} ready in {:.0f} ms on 127.0.0.1:{} (data dir {})\n", server.pid(),
               ready_s * 1000, server.port(), server.dir());
    std::this_thread::sleep_for(milliseconds(o.idle_wait_ms));
    int64_t idle_kib = RssKiB(server.pid());
    summary["idle_rss_mib"] = idle_kib / 1024.0;
    Add("idle RSS", fmt::format("{:.1f} MiB", idle_kib / 1024.0), "<= 50 MB",
        idle_kib * 1024 <= 50'000'000);
    fmt::print("idle RSS {:.1f} MiB\n", idle_kib / 1024.0);

    ssl::context tls(ssl::context::tls_client);
    KORRAL_RETURN_IF_ERROR(LoadClientTls(server.dir(), &tls));
    tls.set_verify_mode(ssl::verify_peer);
    Target target{
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(server.port())),
        &tls, fmt::format("127.0.0.1:{}", server.port())};
    SyncClient client(&target);

    if (o.namespace_name != "default") {
      Json ns = {
          {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", o.namespace_name}}}};
      std::string resp;
      int st = client.Do("POST", "/api/v1/namespaces", "application/json", ns.dump(), &resp);
      if (st != 201 && st != 409) {
        return absl::InternalError(fmt::format("create namespace: HTTP {} {}", st, resp));
      }
    }
    if (o.watchers > 0) KORRAL_RETURN_IF_ERROR(WatchPhase(server, target, client));
    KORRAL_RETURN_IF_ERROR(LoadPhases(server, target, client));
    Json rss = {{"final_rss_mib", RssKiB(server.pid()) / 1024.0}};
    summary["server"] = rss;
    return absl::OkStatus();
  }

  absl::Status WatchPhase(ServerProcess& server, const Target& target, SyncClient& client) {
    const std::string pods_path = fmt::format("/api/v1/namespaces/{}/pods", o.namespace_name);
    std::string resp;
    int st = client.Do("POST", pods_path, "application/json",
                       PodJson("bench-watch-target", o.namespace_name), &resp);
    if (st != 201) return absl::InternalError(fmt::format("create watch target: {} {}", st, resp));
    std::string rv;
    try {
      rv = Json::parse(resp).at("metadata").at("resourceVersion").get<std::string>();
    } catch (const std::exception& e) {
      return absl::InternalError(
          fmt::format("no resourceVersion in create response: {}", e.what()));
    }

    std::this_thread::sleep_for(milliseconds(o.watch_settle_ms));
    int64_t before_kib = RssKiB(server.pid());
    WatchFleet fleet(&target, o.watchers, o.watch_threads, o.updates,
                     fmt::format("{}?watch=true&resourceVersion={}", pods_path, rv));
    auto open_start = SteadyClock::now();
    fleet.Start();
    WatchShared& sh = fleet.shared();
    bool all_open = WaitFor([&] { return sh.established + sh.failed >= o.watchers; },
                            std::chrono::seconds(120));
    double open_s = Seconds(SteadyClock::now() - open_start);
    fmt::print("watch: {} established, {} failed in {:.2f} s{}\n", sh.established.load(),
               sh.failed.load(), open_s, all_open ? "" : " (timed out)");
    if (sh.failed > 0) {
      std::lock_guard<std::mutex> l(sh.mu);
      fmt::print("  first watch error: {}\n", sh.first_error);
    }
    std::this_thread::sleep_for(milliseconds(o.watch_settle_ms));
    int64_t after_kib = RssKiB(server.pid());
    int64_t gauge = ServerWatcherGauge(client);
    int established = sh.established.load();
    double kib_per_watch =
        established > 0 ? static_cast<double>(after_kib - before_kib) / established : 0;
    fmt::print("watch: RSS {:.1f} -> {:.1f} MiB, {:.2f} KiB per watch (server gauge: {})\n",
               before_kib / 1024.0, after_kib / 1024.0, kib_per_watch, gauge);

    // Updates: each patch carries its sequence number and send time.
    const std::string target_path = pods_path + "/bench-watch-target";
    int patch_errors = 0;
    std::string first_patch_error;
    std::vector<int64_t> patch_ns;
    auto t0 = SteadyClock::now();
    double server_cpu0 = CpuSeconds(server.pid()), client_cpu0 = SelfCpuSeconds();
    for (int u = 0; u < o.updates; ++u) {
      std::this_thread::sleep_until(t0 + milliseconds(o.update_interval_ms) * u);
      std::string body = fmt::format(
          "{{\"metadata\":{{\"annotations\":{{\"bench.korral.io/seq\":\"{}\","
          "\"bench.korral.io/sent-ns\":\"{}\"}}}}}}",
          u, SystemNowNs());
      std::string presp;
      auto patch_start = SteadyClock::now();
      int pst = client.Do("PATCH", target_path, "application/merge-patch+json", body, &presp);
      patch_ns.push_back((SteadyClock::now() - patch_start).count());
      if (pst != 200) {
        patch_errors++;
        if (first_patch_error.empty()) {
          first_patch_error = fmt::format("HTTP {}: {}", pst, presp.substr(0, 300));
        }
      }
    }
    int64_t expected = static_cast<int64_t>(established) * (o.updates - patch_errors);
    WaitFor([&] { return sh.delivered.load() >= expected; }, std::chrono::seconds(10));
    double window_s = Seconds(SteadyClock::now() - t0);
    double server_cpu = CpuSeconds(server.pid()) - server_cpu0;
    double client_cpu = SelfCpuSeconds() - client_cpu0;
    fleet.Stop();

    std::vector<int64_t> all;
    int64_t duplicates = 0, events = 0;
    for (Watcher& w : fleet.watchers()) {
      all.insert(all.end(), w.latency_ns.begin(), w.latency_ns.end());
      duplicates += w.duplicates;
      events += w.events;
    }
    Percentiles p = Summarize(all);
    Percentiles patch = Summarize(patch_ns);
    fmt::print("watch: patch round trip p50 {:.2f} ms p99 {:.2f} ms max {:.2f} ms\n", patch.p50_ms,
               patch.p99_ms, patch.max_ms);
    int64_t missed = static_cast<int64_t>(o.watchers) * o.updates - static_cast<int64_t>(p.n);
    fmt::print(
        "watch: {} updates ({} patch errors{}), {} deliveries, {} missed, p50 {:.2f} ms p99 "
        "{:.2f} ms max {:.2f} ms; {:.2f} s window, server CPU {:.2f} s, client CPU {:.2f} s\n",
        o.updates, patch_errors, first_patch_error.empty() ? "" : ": " + first_patch_error, p.n,
        missed, p.p50_ms, p.p99_ms, p.max_ms, window_s, server_cpu, client_cpu);
    summary["watch"] = {{"watchers", o.watchers},
                        {"established", established},
                        {"failed", sh.failed.load()},
                        {"open_seconds", open_s},
                        {"server_gauge", gauge},
                        {"rss_before_mib", before_kib / 1024.0},
                        {"rss_after_mib", after_kib / 1024.0},
                        {"kib_per_watch", kib_per_watch},
                        {"updates", o.updates},
                        {"update_interval_ms", o.update_interval_ms},
                        {"patch_errors", patch_errors},
                        {"events_received", events},
                        {"duplicates", duplicates},
                        {"missed", missed},
                        {"window_s", window_s},
                        {"server_cpu_s", server_cpu},
                        {"client_cpu_s", client_cpu},
                        {"patch", ToJson(patch)},
                        {"delivery", ToJson(p)}};
    Add(fmt::format("watch: established / requested"),
        fmt::format("{} / {}", established, o.watchers), "all", established == o.watchers);
    Add("watch: memory per idle watch", fmt::format("{:.2f} KiB", kib_per_watch), "<= 4 KiB",
        kib_per_watch <= 4.0);
    Add(fmt::format("watch: delivery p50 ({} watchers)", o.watchers),
        fmt::format("{:.2f} ms", p.p50_ms));
    Add(fmt::format("watch: delivery p99 ({} watchers)", o.watchers),
        fmt::format("{:.2f} ms", p.p99_ms), "<= 50 ms", p.n > 0 && p.p99_ms <= 50);
    Add("watch: delivery max", fmt::format("{:.2f} ms", p.max_ms));
    Add("watch: missed deliveries", fmt::format("{}", missed), "0", missed == 0);
    return absl::OkStatus();
  }

  absl::Status LoadPhases(ServerProcess& server, const Target& target, SyncClient& client) {
    const std::string pods_path = fmt::format("/api/v1/namespaces/{}/pods", o.namespace_name);
    // Pre-serialized create requests.
    std::vector<std::string> creates(o.pods);
    size_t body_bytes = 0;
    for (int i = 0; i < o.pods; ++i) {
      std::string body = PodJson(PodName(i), o.namespace_name);
      body_bytes += body.size();
      creates[i] = BuildRequest("POST", pods_path, target.host, "application/json", body);
    }
    size_t avg_body = o.pods > 0 ? body_bytes / o.pods : 0;
    Pool pool(&target, o.clients, o.threads);
    KORRAL_RETURN_IF_ERROR(pool.ConnectAll());

    std::vector<char> created(o.pods, 0);
    std::function<std::string_view(size_t)> create_req = [&](size_t i) -> std::string_view {
      return creates[i];
    };
    LoadResult cr = pool.Run(o.pods, std::chrono::seconds(o.create_seconds), create_req, 201,
                             &created, server.pid());
    creates.clear();
    creates.shrink_to_fit();
    ReportLoad("create", cr, fmt::format("{} pods, {} B each", o.pods, avg_body));
    Add(fmt::format("pod creates/s ({} clients)", o.clients),
        fmt::format("{:.0f}", cr.per_second()), ">= 3000", cr.per_second() >= 3000);
    Add("pod create p50 / p90",
        fmt::format("{:.1f} / {:.1f} ms", cr.latency.p50_ms, cr.latency.p90_ms));
    Add("pod create p99", fmt::format("{:.1f} ms", cr.latency.p99_ms), "<= 50 ms",
        cr.latency.n > 0 && cr.latency.p99_ms <= 50);
    Add("pod create max", fmt::format("{:.1f} ms", cr.latency.max_ms));
    Add("pod create errors", fmt::format("{}", cr.errors), "0", cr.errors == 0);
    Add("server CPU per create",
        fmt::format("{:.0f} us", cr.ok ? cr.server_cpu_s / cr.ok * 1e6 : 0));

    // Gets of the pods that exist.
    std::vector<std::string> gets;
    for (int i = 0; i < o.pods; ++i) {
      if (created[i])
        gets.push_back(BuildRequest("GET", pods_path + "/" + PodName(i), target.host));
    }
    if (!gets.empty() && o.gets > 0) {
      std::function<std::string_view(size_t)> get_req = [&](size_t i) -> std::string_view {
        return gets[(i * 7919) % gets.size()];
      };
      LoadResult gr = pool.Run(o.gets, std::chrono::seconds(o.get_seconds), get_req, 200, nullptr,
                               server.pid());
      ReportLoad("get", gr, fmt::format("{} distinct pods", gets.size()));
      Add(fmt::format("pod gets/s ({} clients)", o.clients), fmt::format("{:.0f}", gr.per_second()),
          ">= 20000", gr.per_second() >= 20000);
      Add("pod get p50 / p99",
          fmt::format("{:.2f} / {:.2f} ms", gr.latency.p50_ms, gr.latency.p99_ms));
      Add("pod get errors", fmt::format("{}", gr.errors), "0", gr.errors == 0);
      Add("server CPU per get",
          fmt::format("{:.0f} us", gr.ok ? gr.server_cpu_s / gr.ok * 1e6 : 0));
    }

    // Full lists of the namespace.
    if (o.lists > 0) {
      std::string list_req = BuildRequest("GET", pods_path, target.host);
      std::vector<double> samples;
      size_t items = 0, bytes = 0;
      std::string body, first_error;
      auto deadline = SteadyClock::now() + std::chrono::seconds(o.list_seconds);
      for (int i = 0; i < o.lists && SteadyClock::now() < deadline; ++i) {
        auto t0 = SteadyClock::now();
        int st = client.DoRaw(list_req, &body);
        double ms = Seconds(SteadyClock::now() - t0) * 1000;
        if (st != 200) {
          first_error = fmt::format("HTTP {}: {}", st, body.substr(0, 300));
          break;
        }
        samples.push_back(ms);
        bytes = body.size();
        if (i == 0) {
          try {
            items = Json::parse(body).at("items").size();
          } catch (const std::exception& e) {
            first_error = fmt::format("list is not a PodList: {}", e.what());
          }
        }
      }
      double median = Median(samples);
      fmt::print("list: {} samples, {} items, {:.1f} MiB, median {:.1f} ms{}\n", samples.size(),
                 items, bytes / 1048576.0, median,
                 first_error.empty() ? "" : " error: " + first_error);
      summary["list"] = {{"samples_ms", samples},
                         {"median_ms", median},
                         {"items", items},
                         {"bytes", bytes},
                         {"error", first_error}};
      Add(fmt::format("full list of {} pods (median)", items), fmt::format("{:.0f} ms", median));
    }
    return absl::OkStatus();
  }

  void ReportLoad(const std::string& name, const LoadResult& r, const std::string& what) {
    fmt::print(
        "{}: {} ok, {} errors in {:.2f} s = {:.0f}/s; p50 {:.2f} p90 {:.2f} p99 {:.2f} max {:.2f} "
        "ms; server CPU {:.2f} s, client CPU {:.2f} s ({})\n",
        name, r.ok, r.errors, r.seconds, r.per_second(), r.latency.p50_ms, r.latency.p90_ms,
        r.latency.p99_ms, r.latency.max_ms, r.server_cpu_s, r.client_cpu_s, what);
    if (!r.first_error.empty()) fmt::print("  first {} error: {}\n", name, r.first_error);
    std::fflush(stdout);
    summary[name] = {{"ok", r.ok},
                     {"errors", r.errors},
                     {"seconds", r.seconds},
                     {"per_second", r.per_second()},
                     {"latency", ToJson(r.latency)},
                     {"server_cpu_s", r.server_cpu_s},
                     {"client_cpu_s", r.client_cpu_s},
                     {"clients", o.clients},
                     {"threads", o.threads},
                     {"first_error", r.first_error}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<Options> options = ParseOptions(argc, argv);
  if (!options.ok()) {
    if (!absl::IsCancelled(options.status())) {
      fmt::print(stderr, "apiserver_bench: {}\n", korral::StatusMessage(options.status()));
    }
    fmt::print(stderr, "{}", kUsage);
    return absl::IsCancelled(options.status()) ? 0 : 2;
  }
  Bench bench{*options};
  fmt::print("apiserver_bench: {} ({} clients / {} threads, {} pods, {} watchers)\n",
             options->korral, options->clients, options->threads, options->pods, options->watchers);
  std::fflush(stdout);
  absl::Status status = bench.ColdStarts();
  if (status.ok()) status = bench.Main();
  PrintTable(bench.rows);
  bench.summary["options"] = {{"clients", options->clients},
                              {"threads", options->threads},
                              {"pods", options->pods},
                              {"gets", options->gets},
                              {"watchers", options->watchers},
                              {"updates", options->updates},
                              {"server_args", options->server_args}};
  bench.summary["ok"] = status.ok();
  if (!status.ok()) bench.summary["error"] = status.ToString();
  std::string json = bench.summary.dump();
  fmt::print("\nJSON: {}\n", json);
  if (!options->json_out.empty()) std::ofstream(options->json_out) << json << "\n";
  if (!status.ok()) {
    fmt::print(stderr, "apiserver_bench: {}\n", status.ToString());
    return 1;
  }
  return 0;
}

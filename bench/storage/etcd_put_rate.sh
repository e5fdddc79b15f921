#!/usr/bin/env bash
# etcd_put_rate.sh: measures the raw put rate of Debian's etcd (3.4, /usr/bin/etcd) through its
# HTTP JSON gateway with concurrent keep-alive clients, next to korral's sqlite create rate.
#
# Usage: bench/storage/etcd_put_rate.sh [path/to/storage_bench] [seconds per level] [threads...]
#   e.g. bench/storage/etcd_put_rate.sh build/bin/storage_bench 3 1 8 64
# Everything runs on 127.0.0.1 in a temporary directory that is removed at exit. The client is
# Python (http.client + threads): at high concurrency the client's GIL can be the bottleneck,
# so treat etcd's figure as a lower bound.
set -euo pipefail

BENCH=${1:-}
SECONDS_PER_LEVEL=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
LEVELS=("$@")
[[ ${#LEVELS[@]} -eq 0 ]] && LEVELS=(1 8 64)
ETCD=${ETCD:-/usr/bin/etcd}
VALUE_BYTES=${VALUE_BYTES:-1500}

TMP=$(mktemp -d /tmp/korral-etcd-bench.XXXXXX)
ETCD_PID=
cleanup() {
  if [[ -n "$ETCD_PID" ]]; then kill "$ETCD_PID" 2>/dev/null || true; wait "$ETCD_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

read -r CLIENT_PORT PEER_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(*[s.getsockname()[1] for s in socks])
PY
)

"$ETCD" --name bench --data-dir "$TMP/data" \
  --listen-client-urls "http://127.0.0.1:$CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "bench=http://127.0.0.1:$PEER_PORT" \
  --log-level error >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!

python3 - "$CLIENT_PORT" "$SECONDS_PER_LEVEL" "$VALUE_BYTES" "${LEVELS[@]}" <<'PY'
import base64, http.client, json, sys, threading, time

port, seconds, value_bytes = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
levels = [int(x) for x in sys.argv[4:]]

deadline = time.time() + 20
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/health")
        if c.getresponse().status == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("etcd did not become healthy")
    time.sleep(0.1)

value = base64.b64encode(b"v" * value_bytes).decode()
print(f"etcd 3.4 via HTTP gateway, value={value_bytes} bytes, {seconds:g} s per level")
for threads in levels:
    counts = [0] * threads
    lat = [[] for _ in range(threads)]
    errors = [0]
    stop = time.time() + seconds

    def worker(t):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = 0
        while time.time() < stop and i < 1_000_000:
            key = base64.b64encode(f"/registry/pods/ns{threads}-{t}/pod-{i}".encode()).decode()
            body = json.dumps({"key": key, "value": value})
            s = time.perf_counter()
            conn.request("POST", "/v3/kv/put", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors[0] += 1
            else:
                counts[t] += 1
                lat[t].append(time.perf_counter() - s)
            i += 1

    start = time.time()
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    elapsed = time.time() - start
    all_lat = sorted(x for l in lat for x in l)
    p = lambda q: all_lat[min(len(all_lat) - 1, int(len(all_lat) * q))] * 1000 if all_lat else 0
    print(f"etcd     put                    threads={threads:<3d} {sum(counts)/elapsed:10.0f} ops/s   "
          f"p50={p(0.5):7.3f} ms  p99={p(0.99):7.3f} ms  errors={errors[0]}")
PY

if [[ -n "$BENCH" ]]; then
  THREADS=$(IFS=,; echo "${LEVELS[*]}")
  "$BENCH" --backend=sqlite --creates_only --duration_ms=$((SECONDS_PER_LEVEL * 1000)) \
    --threads="$THREADS" --value_bytes="$VALUE_BYTES" --dir="$TMP"
fi

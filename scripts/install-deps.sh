#!/usr/bin/env bash
# Installs the Debian 12 packages korral builds and tests with. Idempotent: does nothing when all
# are present. Needs root (or sudo) only when something is missing.
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build ccache pkg-config
  libboost1.74-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev
  libabsl-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev libsodium-dev
  libgoogle-perftools-dev)
# The node (korral agent): gRPC/protobuf for the CRI client, and the runtime korral supervises.
NODE_PKGS=(libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  containerd runc containernetworking-plugins busybox-static docker-registry iptables)
TEST_PKGS=(python3-kubernetes python3-yaml python3-websocket etcd-server etcd-client openssl)

want=("${BUILD_PKGS[@]}" "${NODE_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

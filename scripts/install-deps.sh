#!/usr/bin/env bash
# Installs the Debian packages meshwatchd builds, tests and demos with, when missing.
# Safe to run again: it only calls apt-get when something is absent, and `apt-get update` once.
set -euo pipefail

packages=(
  libcurl4-openssl-dev   # every HTTP call goes through libcurl
  libssl-dev             # HMAC-SHA256 for signed webhooks (libcrypto)
  libsystemd-dev         # sd_notify and the journal
  libsqlite3-dev         # the state store (GRDB)
  libsnappy-dev          # snappy block compression of remote-write requests
  pkg-config
  prometheus             # promtool and the real Prometheus the tests and demo query
  prometheus-alertmanager  # the real Alertmanager the Alertmanager sink is tested against
  victoria-metrics       # the other remote-write receiver recording rules are read back from
  python3                # the tests' loopback HTTP server and the benchmark's baseline
  python3-venv           # a private venv for kubernetes-validate (the manifests' check)
  openssl                # the tests' throwaway certificate authority
  ca-certificates
  systemd                # systemd-analyze, which checks the unit file
  man-db                 # man, which systemd-analyze uses to check the unit's Documentation=man:meshwatchd(8)
  groff-base             # groff, which checks the man pages for mdoc warnings (man-db brings it too)
  util-linux             # unshare, for the journald test's private mount namespace
)

# Only for the tests (--test-tools): headless Chromium opens the weekly report's HTML page and, driven by
# chromedriver (Selenium, in the tools venv), logs in to the status page and acknowledges an alert.
if [[ "${1:-}" == "--test-tools" ]]; then
  packages+=(chromium chromium-driver)
  packages+=(kubectl)  # kubectl's own requests against the Kubernetes double, and `kubectl kustomize` of deploy/k8s
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift toolchain (6.0 or newer) is not on PATH; install it from swift.org first" >&2
  exit 1
fi

# With --test-tools: kubernetes-validate (PyPI), which checks deploy/k8s offline against Kubernetes's schemas, and
# selenium, which drives chromedriver; they live in a venv under .build (Debian's Python is externally managed).
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.build/tools"
install_tools() {
  [[ "${1:-}" == "--test-tools" ]] || return 0
  [[ -x "$tools/bin/kubernetes-validate" ]] && "$tools/bin/python" -c "import selenium" 2>/dev/null && return 0
  echo "install-deps: installing kubernetes-validate and selenium into $tools"
  [[ -x "$tools/bin/pip" ]] || /usr/bin/python3 -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check kubernetes-validate jsonschema selenium
}

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  install_tools "${1:-}"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Debian's packages start a Prometheus on 0.0.0.0:9090 (and VictoriaMetrics on :8428) where systemd runs. meshwatchd only
# needs the binaries (tests start their own on loopback), so stop the one we just brought in.
for unit in prometheus prometheus-alertmanager victoria-metrics; do
  if [[ " ${missing[*]} " == *" $unit "* ]] && [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    echo "install-deps: stopped and disabled the packaged $unit.service (the tests start their own on 127.0.0.1)"
  fi
done

install_tools "${1:-}"

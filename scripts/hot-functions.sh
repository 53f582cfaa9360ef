#!/bin/sh
# Regenerates Sources/MeshWatchd/hot-functions.order: the functions the daemon runs once it has
# started (evaluation cycles, findings, sinks, the store), which the release link puts first in
# `.text` (lld --symbol-ordering-file, Package.swift) so that a cycle touches a few megabytes of
# code instead of pages scattered over 32 MB (docs/benchmarks.md: the footprint beside vmalert).
#
# How: the release build (with the flags of `make bench`, but linked without packed relocations
# and without read-only-data.ld, which Debian's valgrind 3.19 cannot load) runs under `valgrind --tool=callgrind` against
# `MeshBench scenario` (the daemon benchmark's Prometheus), once with the Istio pack (7 rules)
# and once with the 1,000 rules; instrumentation starts when the daemon logs that start-up is
# over ("start-up pages released") and runs for a few cycles, then (the Istio pack) six dumps of
# 30 s each of the steady cycles. Every function of the executable that ran is written: first
# those that ran in every steady dump, then those that ran in some, then the rest, each group the
# most instructions first. A function missing from the list only costs a page fault more; a name
# that no longer exists is ignored by the linker.
#
# Needs valgrind and python3 (Debian: valgrind python3), and for the rounds after the profile
# perf (Debian: linux-perf; they are skipped without it). Takes about twenty-five minutes.
# The rounds also add the read-only constants the cycles read, and the runtime's conformance
# descriptors go at the end (scripts/hot-functions-conformances.py). PROFILE=0 skips the callgrind
# profile and keeps the list's names: only those steps, about ten minutes.
set -eu
cd "$(dirname "$0")/.."
SECONDS_PROFILED=${SECONDS_PROFILED:-150}
STEADY_DUMPS=${STEADY_DUMPS:-6}
FLAGS=$(sed -n 's/^RELEASE_FLAGS := //p' Makefile)
# shellcheck disable=SC2086
swift build $FLAGS --product MeshBench
work=$(mktemp -d)
bin=$(swift build -c release --show-bin-path)
# PROFILE=0 keeps the functions the list names and runs only the rounds after the profile (and
# the conformance descriptors' step), on the release link as Package.swift makes it.
if [ "${PROFILE:-1}" != 0 ]; then
    # shellcheck disable=SC2086
    MESHWATCHD_PROFILE_LINK=1 swift build $FLAGS --product meshwatchd -Xlinker -Map="$work/link.map"
fi
cleanup() {
    [ -n "${scenario:-}" ] && kill -INT "$scenario" 2>/dev/null && wait "$scenario" 2>/dev/null || true
    [ -n "${receiver:-}" ] && kill "$receiver" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ "${PROFILE:-1}" = 0 ] || strip --strip-debug -o "$work/meshwatchd" "$bin/meshwatchd"    # valgrind 3.19 misreads lld's DWARF 5

# A receiver for the sinks: 200 to every POST, `[]` to every GET (Alertmanager's silences).
python3 -c '
import http.server, sys
class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, body):
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0))); self.reply(b"")
    def do_GET(self): self.reply(b"[]")
    def log_message(self, *arguments): pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()' > "$work/receiver.port" &
receiver=$!
"$bin/MeshBench" scenario > "$work/scenario.out" 2>&1 &
scenario=$!
url=""
for _ in $(seq 1 120); do
    url=$(sed -n 's/^Prometheus with .*: \(http[^ ]*\)$/\1/p' "$work/scenario.out")
    [ -n "$url" ] && break
    sleep 1
done
[ -n "$url" ] || { cat "$work/scenario.out"; exit 1; }
port=$(head -1 "$work/receiver.port")
thousand=$(sed -n 's/^the 1,000 rules: \([^;]*\);.*/\1/p' "$work/scenario.out")
"$bin/meshwatchd" rules export --pack istio --set interval=15s > "$work/istio.yml"

configure() { # directory rule-file: the daemon's configuration, both sinks to the receiver
    mkdir -p "$1"
    cat > "$1/config.json" <<EOF
{"prometheus": {"url": "$url"}, "rule_files": ["$2"], "packs": {"istio": {"enabled": false}},
 "sinks": [{"name": "am", "type": "alertmanager", "url": "http://127.0.0.1:$port/"},
           {"name": "hook", "type": "webhook", "url": "http://127.0.0.1:$port/hook"}]}
EOF
}
released() { # log pid seconds: waits for the release of start-up's pages; stops the script without it
    for _ in $(seq 1 "$3"); do
        grep -q 'start-up pages released' "$1" && break
        kill -0 "$2" 2>/dev/null || break
        sleep 1
    done
    grep -q 'start-up pages released' "$1" || { tail -20 "$1"; exit 1; }
}

profile() { # name rule-file steady-dumps
    configure "$work/$1" "$2"
    valgrind --tool=callgrind --instr-atstart=no --demangle=no --callgrind-out-file="$work/$1/callgrind.out" \
        "$work/meshwatchd" run --config "$work/$1/config.json" --state-directory "$work/$1/state" \
        --listen 127.0.0.1:$((port + 1)) --log-format json > "$work/$1/log" 2>&1 &
    daemon=$!
    released "$work/$1/log" "$daemon" 600
    callgrind_control -i on "$daemon" > /dev/null
    sleep "$SECONDS_PROFILED"
    callgrind_control -d "$daemon" > /dev/null
    # Then the steady cycles, a dump every 30 s (two cycles): what runs in every one of them is
    # the code a daemon keeps resident for hours, and goes first (below).
    for _ in $(seq 1 "$3"); do
        sleep 30
        callgrind_control -d "$daemon" > /dev/null
    done
    sleep 5
    kill -TERM "$daemon"
    wait "$daemon" || true
}
if [ "${PROFILE:-1}" != 0 ]; then
profile istio "$work/istio.yml" "$STEADY_DUMPS"
profile thousand "$thousand" 0

python3 - "$work" "$work/meshwatchd" > Sources/MeshWatchd/hot-functions.order <<'EOF'
import collections, glob, re, subprocess, sys
work, binary = sys.argv[1], sys.argv[2]
defined = set(l.split()[2] for l in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True).stdout.splitlines()
              if len(l.split()) == 3 and l.split()[1] in "tTwW")
cost = collections.Counter()
istio = collections.Counter()    # what the Istio pack's cycles ran: most users run it, and its footprint is the tighter goal
# In how many of the Istio pack's steady dumps (every dump after the first: 30 s each, once the
# first alerts have fired) each function ran. A function that runs in every cycle keeps its page
# resident however few instructions it costs; one that ran once (the first firing, its runbook)
# does not. Ordered by instructions alone, the two kinds were interleaved, and the cycles kept
# ~60 windows of 64 KB (the kernel maps that much around each fault) over the list's first 5 MB.
steady = collections.Counter()
def dump_number(path):
    suffix = path.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0
istio_dumps = sorted((p for p in glob.glob(work + "/istio/callgrind.out.*") if dump_number(p) > 1), key=dump_number)
for path in glob.glob(work + "/*/callgrind.out.*"):
    counter = istio if "/istio/" in path else collections.Counter()
    ran = set()
    objects, functions, current, in_binary, after_call = {}, {}, None, False, False
    for line in open(path, errors="replace"):
        m = re.match(r"^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            called, kind, key, name = m.groups()
            table = objects if kind == "ob" else functions
            if name: table[key] = name
            if kind == "ob" and not called: in_binary = table[key] == binary
            if kind == "fn" and not called: current = table[key] if in_binary else None
            if current: cost[current] += 0; counter[current] += 0
            continue
        if line.startswith("calls="): after_call = True; continue
        m = re.match(r"^[+-]?\d+ (\d+)$|^\* (\d+)$", line.strip())
        if m and current:
            if not after_call:
                cost[current] += int(m.group(1) or m.group(2))
                counter[current] += int(m.group(1) or m.group(2))
                ran.add(current)
            after_call = False
    if path in istio_dumps:
        steady.update(ran)
# The size of the input section each function is in, from the link's map: a function in a big
# section (a file's `.text` of functions compiled without sections of their own, as the
# toolchain's C++ runtime and Foundation are) moves with all of it. Functions in small sections
# come first, most instructions first; then the big sections, each once, the costliest first.
section_size = {}
size = 0
for line in open(work + "/link.map", errors="replace"):
    m = re.match(r"\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ ( *)(.*)$", line.rstrip("\n"))
    if not m: continue
    if len(m.group(2)) == 8: size = int(m.group(1), 16)
    elif len(m.group(2)) == 16: section_size.setdefault(m.group(3), size)
# The functions that ran in every steady dump of the Istio pack come first, then those that ran in
# some (a once-a-minute path: Alertmanager's keep-alive), then the rest the pack's cycles ran, then
# those only the 1,000 rules ran, each tier most instructions first: a daemon with the pack then
# keeps one short run of code resident, not the union's pages.
def tier(name):
    if name not in istio: return 3
    if istio_dumps and steady[name] == len(istio_dumps): return 0
    return 1 if steady[name] > 0 else 2
ranked = [name for name, _ in sorted(cost.items(), key=lambda item: (tier(item[0]), -istio[item[0]], -item[1], item[0]))
          if name in defined]
print("steady dumps: %d; functions in every one: %d, in some: %d" % (len(istio_dumps), sum(1 for n in ranked if tier(n) == 0),
      sum(1 for n in ranked if tier(n) == 1)), file=sys.stderr)
# The release of start-up's pages (StartupPages.release and the C that gives the pages back)
# runs before the profile starts, but its end runs after the pages are gone and stays resident:
# it goes with the small functions, wherever the profile put it.
pinned = sorted(name for name in defined if "12StartupPagesO7release" in name
                or name in ("mw_release_ranges", "release_object", "read_only_segment", "mw_resident_file_kb"))
small = [name for name in ranked if section_size.get(name, 0) <= 16384 and name not in pinned] + pinned
print("\n".join(small + [name for name in ranked if section_size.get(name, 0) > 16384 and name not in pinned]))
EOF
fi
echo "$(wc -l < Sources/MeshWatchd/hot-functions.order) names in Sources/MeshWatchd/hot-functions.order"

# Linked again as Package.swift says, in the new order (the build does not know the file).
relink() {
    rm -f "$bin/meshwatchd"
    # shellcheck disable=SC2086
    swift build $FLAGS --product meshwatchd -Xlinker -Map="$work/release.map"
}
# Then the conformance descriptors, together in the read-only constants, after the constants the
# rounds below find the cycles read (the list's functions order `.text` and its constants
# `.rodata.readonly`; each section only among its own).
# The runtime's first lookup of a type's conformance to a protocol reads every descriptor of the
# executable (about 12,000; the first alert that fires makes some twenty such lookups): together
# they are ~450 KB, where scattered among the constants they were on ~290 pages (1.2 MB) that the
# lookup mapped, and the pages around them. The writable ones (relocated, RELRO) are left.
# Read from the release link (the profile's link has no read-only constants segment), then linked again.
relink
python3 scripts/hot-functions-conformances.py "$bin/meshwatchd" Sources/MeshWatchd/hot-functions.order
relink

# Then what the profile missed: callgrind runs the daemon many times slower, so the paths that
# depend on timing (a deadline, a signal's timeout, a once-a-minute sweep) differ, and a function
# seen there under one name may run here under another (an outlined copy, a closure). The release
# build runs at full speed against the same scenario with the Istio pack under perf, which records
# every page fault; each function of the executable whose first touch faulted after the release of
# start-up's pages, and that the list does not name, joins the small functions (after the pinned
# ones). Each round moves some, and the next shows what their old neighbours hid.
# Skipped when perf cannot record page faults here; ROUNDS=0 skips it too.
if command -v perf > /dev/null && perf record -q -k CLOCK_REALTIME -c 1 -e page-faults -d -o "$work/probe.data" -- true > /dev/null 2>&1; then
    for round in $(seq 1 "${ROUNDS:-3}"); do
        configure "$work/round$round" "$work/istio.yml"
        perf record -q -k CLOCK_REALTIME -c 1 -e page-faults -d -o "$work/round$round/faults.data" -- \
            "$bin/meshwatchd" run --config "$work/round$round/config.json" --state-directory "$work/round$round/state" \
            --listen 127.0.0.1:$((port + 1)) --log-format json > "$work/round$round/log" 2>&1 &
        recorder=$!
        released "$work/round$round/log" "$recorder" 120
        sleep "${SECONDS_RECORDED:-100}"
        kill -INT "$recorder"    # perf ends the daemon and writes its recording
        wait "$recorder" || true
        perf script -i "$work/round$round/faults.data" --show-mmap-events -F time,addr 2>/dev/null > "$work/round$round/faults.txt" || true
        python3 scripts/hot-functions-faults.py "$work/release.map" "$work/round$round/faults.txt" "$bin/meshwatchd" \
            Sources/MeshWatchd/hot-functions.order "$work/round$round/log"
        relink
    done
fi

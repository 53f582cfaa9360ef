"""Adds to hot-functions.order the functions and read-only constants of the executable whose
first touch faulted in a recording (`perf script --show-mmap-events -F addr` of `perf record -e
page-faults -d`) and that it does not name yet; they go after the pinned release functions,
before the big sections. A constant is read back a page at a time after the release (MADV_RANDOM,
the page cache dropped), so each page a cycle reads faults once, at the first constant it reads
there; the link then puts those constants together, and the next round shows the others read on
their old pages. Used by scripts/hot-functions.sh.

Arguments: the link map of the recorded binary, the recording's text (`-F time,addr`, times
from CLOCK_REALTIME: `perf record -k CLOCK_REALTIME`), the binary's path as the recording names
it, the order file (rewritten), and the daemon's JSON log: only faults from the "ready" line
before its "start-up pages released" line count (the first cycle's consequences, findings
delivered and runbooks run, come right after the release and stay resident)."""
import bisect
import calendar
import collections
import json
import os
import re
import sys
import time

link_map, faults, binary, order_file, log = sys.argv[1:6]
binary = os.path.realpath(binary)  # perf names the file the loader opened
# From the "ready" line before the release: the pages are given back a few milliseconds after it,
# and the threads that run meanwhile fault before the release's own line is written.
since, ready = None, None
for line in open(log, errors="replace"):
    try:
        entry = json.loads(line)
    except ValueError:
        continue
    if entry.get("msg") == "ready":
        ready = entry["ts"]
    if entry.get("msg") == "start-up pages released":
        whole, _, fraction = (ready or entry["ts"]).rstrip("Z").partition(".")  # 2026-12-06T00:44:33.483Z
        since = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (fraction or "0"))
        break
if since is None:
    sys.exit("no 'start-up pages released' line in " + log)
order = [line.rstrip("\n") for line in open(order_file)]
named = set(order)
symbols, section, current = [], None, 0
ranges = {}    # output section -> (start, end): the code and the read-only constants
for line in open(link_map, errors="replace"):
    m = re.match(r"\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ ( *)(.*)$", line.rstrip("\n"))
    if not m:
        continue
    address, size, depth, name = int(m.group(1), 16), int(m.group(2), 16), len(m.group(3)), m.group(4)
    if depth == 0:
        section = name
        if name in (".text", ".rodata.readonly"):
            ranges[name] = (address, address + size)
    elif depth == 8:
        current = size
    elif depth == 16 and section in (".text", ".rodata.readonly"):
        symbols.append((address, name, current))
symbols.sort()
starts = [symbol[0] for symbol in symbols]
# A name defined in more than one object (a local constant's, `__unnamed_40`) would move every
# section that defines it: left out.
defined = collections.Counter(symbol[1] for symbol in symbols)
base, found = None, []
for line in open(faults, errors="replace"):
    if "PERF_RECORD_MMAP" in line:
        m = re.search(r"\[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: r..p (\S+)", line)
        if base is None and m and m.group(4) == binary and int(m.group(3), 16) == 0:
            base = int(m.group(1), 16)
        continue
    fields = line.split()
    if base is None or len(fields) != 2 or "PERF_RECORD" in line:
        continue
    try:
        if float(fields[0].rstrip(":")) < since:
            continue
        address = int(fields[1], 16) - base
    except ValueError:
        continue
    if any(start <= address < end for start, end in ranges.values()):
        index = bisect.bisect_right(starts, address) - 1
        if index < 0:
            continue
        _, name, size = symbols[index]
        # A function or constant inside a big section moves only with all of it (the profile
        # placed those; ICU's and Unicode's tables stay where they are); the map writes C++ names
        # demangled, which the linker would not know: left out.
        if size <= 16384 and defined[name] == 1 and name not in named and name not in found and not re.search(r"[ (:<]", name):
            found.append(name)
pinned = [index for index, name in enumerate(order) if "12StartupPagesO7release" in name
          or name in ("mw_release_ranges", "release_object", "read_only_segment", "mw_resident_file_kb")]
at = (max(pinned) + 1) if pinned else len(order)
with open(order_file, "w") as output:
    output.write("\n".join(order[:at] + found + order[at:]) + "\n")
print(f"{len(found)} functions and constants faulted outside the list", file=sys.stderr)

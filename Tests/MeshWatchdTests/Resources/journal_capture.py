#!/usr/bin/env python3
"""Runs a command with journald faked: for tests, inside `unshare -m` (a private mount namespace).

Mounts a tmpfs on /run/systemd, listens on /run/systemd/journal/socket as journald does, starts
the command with stdout on a pipe named by JOURNAL_STREAM (so it knows the journal is its
stdout), and prints each entry received, decoded from journald's native protocol, as a JSON line.
Usage: journal_capture.py SECONDS [--until MESSAGE] COMMAND [ARGS...]: the command is stopped
(SIGTERM) after SECONDS, or as soon as an entry whose MESSAGE is MESSAGE has arrived (on a busy
machine the command may take many seconds to get that far; an idle one stops early).
"""
import json, os, socket, struct, subprocess, sys, time

subprocess.run(["mount", "--make-rprivate", "/"], check=True)
os.makedirs("/run/systemd", exist_ok=True)
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/systemd"], check=True)
os.makedirs("/run/systemd/journal")
journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.settimeout(0.2)

seconds = float(sys.argv[1])
command = sys.argv[2:]
until = None
if command[:1] == ["--until"]:
    until, command = command[1], command[2:]
read_end, write_end = os.pipe()
info = os.fstat(write_end)
environment = dict(os.environ, JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
environment.pop("NOTIFY_SOCKET", None)
child = subprocess.Popen(command, stdout=write_end, env=environment)
os.close(write_end)


def decode(data):
    """KEY=value lines, or KEY\\n<64-bit little-endian length><bytes>\\n for values with newlines."""
    fields, index = {}, 0
    while index < len(data):
        newline = data.index(b"\n", index)
        line = data[index:newline]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            fields[key.decode()] = value.decode("utf-8", "replace")
            index = newline + 1
        else:
            (length,) = struct.unpack("<Q", data[newline + 1:newline + 9])
            fields[line.decode()] = data[newline + 9:newline + 9 + length].decode("utf-8", "replace")
            index = newline + 9 + length + 1
    return fields


deadline = time.time() + seconds
while time.time() < deadline:
    try:
        data = journal.recv(1 << 20)
    except socket.timeout:
        continue
    entry = decode(data)
    print(json.dumps(entry), flush=True)
    if until is not None and entry.get("MESSAGE") == until:
        break
child.terminate()
# Reading on while it stops: with nobody reading, the socket's queue fills and the daemon's
# next journal write (its shutdown lines) waits for room.
stop_deadline = time.time() + 60
while child.poll() is None and time.time() < stop_deadline:
    try:
        journal.recv(1 << 20)
    except socket.timeout:
        pass
if child.poll() is None:
    child.kill()  # never left running in the private mount namespace
    child.wait()
print(json.dumps({"CAPTURE_EXIT": str(child.returncode)}), flush=True)

"""Puts the executable's read-only protocol conformance descriptors at the end of
hot-functions.order, in their present order, so that the release link lays them out together
at the head of the read-only constants (lld orders each output section's input sections by the
list, functions in `.text`, constants in `.rodata.readonly`, each among its own).

The Swift runtime's first lookup of a conformance (a type to a protocol, a dynamic cast, a new
generic type's witness table) reads every conformance descriptor the executable has, not only
the records that point to them: about 12,000. Scattered through the constants, they were on
~290 pages that each such lookup maps back after start-up's pages are released.
A descriptor the compiler put among writable data (relocated at load, RELRO) is left where it is.
Used by scripts/hot-functions.sh.

Arguments: the release-linked binary (its `nm` types tell read-only from writable) and the
order file (rewritten: the list's other lines first, unchanged, then the descriptors)."""
import subprocess
import sys

binary, order_file = sys.argv[1:3]
symbols = []
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    fields = line.split()
    # `Mc` ends the mangled name of a protocol conformance descriptor; r/R: in a read-only section.
    if len(fields) == 3 and fields[1] in "rR" and fields[2].startswith("$s") and fields[2].endswith("Mc"):
        symbols.append((int(fields[0], 16), fields[2]))
descriptors = [name for _, name in sorted(symbols)]
if len(descriptors) < 1000:
    sys.exit(f"only {len(descriptors)} read-only conformance descriptors in {binary}: not a release link of meshwatchd?")
chosen = set(descriptors)
order = [line.rstrip("\n") for line in open(order_file) if line.strip()]
kept = [name for name in order if name not in chosen and not (name.startswith("$s") and name.endswith("Mc"))]
with open(order_file, "w") as output:
    output.write("\n".join(kept + descriptors) + "\n")
print(f"{len(descriptors)} conformance descriptors at the end of {order_file}", file=sys.stderr)

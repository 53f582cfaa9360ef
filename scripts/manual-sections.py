#!/usr/bin/env python3
"""Turns the man pages swift-argument-parser's generate-manual writes into the final pages.

    scripts/manual-sections.py [--check] docs/meshwatchd.8 [docs/meshwatchd-demo.8 ...]

For a page docs/NAME.SECTION it reads docs/manual/NAME/ (see docs/manual/README.md):

- every TITLE.mdoc there is the body of the section TITLE ("_" for a space: EXIT_STATUS.mdoc
  is EXIT STATUS); it replaces the generator's section of that title (its generic
  `.Ex -std`) or is added, and sections are put in the conventional mdoc(7) order;
- `self-reference`, one line of text, stands for NAME(SECTION) where the generated text
  (the commands' help) names the page itself; "this page" without it.

It also fixes what the generator writes that mandoc and groff warn about: blank lines (made
`.Pp`), `.Pp` before `.It`/`.El` or at a section's end, several sentences on one line, a
full stop ending `.Nd`; and in SEE ALSO it drops the page itself and pages of this project
that are not next to it, and puts the commas between the `.Xr`.

Running it on its own output changes nothing, so `make man` runs it after generate-manual and
the test suite can run it with --check (exit 1 and a diff when a page is not its output).
"""
import difflib
import os
import re
import sys

# mdoc(7)'s order of the standard sections, with meshwatchd's own (CONFIGURATION, SIGNALS)
# where such pages conventionally have them.
ORDER = [
    "NAME", "LIBRARY", "SYNOPSIS", "DESCRIPTION", "CONTEXT", "IMPLEMENTATION NOTES", "RETURN VALUES",
    "CONFIGURATION", "ENVIRONMENT", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "DIAGNOSTICS",
    "ERRORS", "SEE ALSO", "STANDARDS", "HISTORY", "AUTHORS", "CAVEATS", "BUGS", "SECURITY CONSIDERATIONS",
]
# Abbreviations whose full stop ends no sentence.
ABBREVIATIONS = ("e.g", "i.e", "etc", "vs", "cf")


def is_macro(line):
    return line.startswith(".") or line.startswith("'")


def split_sentences(line):
    """A text line with one sentence per line ("new sentence, new line", mdoc(7))."""
    pieces, start = [], 0
    for match in re.finditer(r"[.!?][)\]\"']* +(?=[A-Z])", line):
        before = line[start:match.start()]
        word = re.split(r"[\s(]", before)[-1] if before else ""
        if not word or word.lower().rstrip(".") in ABBREVIATIONS or len(word) == 1:
            continue
        pieces.append(line[start:match.end()].rstrip())
        start = match.end()
    pieces.append(line[start:])
    return pieces


def fix_body(lines, name, section, self_reference):
    """The fixes every section gets: self-references, sentences, paragraphs."""
    own = re.compile(r"(?<![\w.-])" + re.escape(name) + r"\(" + re.escape(section) + r"\)")
    fixed = []
    for line in lines:
        if not line.strip():
            fixed.append(".Pp")
        elif is_macro(line):
            fixed.append(line)
        else:
            fixed.extend(split_sentences(own.sub(self_reference, line)))
    # A paragraph break only between two pieces of text.
    result = []
    for index, line in enumerate(fixed):
        if line == ".Pp":
            following = fixed[index + 1] if index + 1 < len(fixed) else None
            if following is None or following.split(" ")[0] in (".It", ".El", ".Pp", ".Sh", ".Ss"):
                continue
            if not result or result[-1].startswith((".Bl", ".Pp", ".Ss", ".Sh")):
                continue
        result.append(line)
    return result


def fix_see_also(lines, name, section, directory):
    """SEE ALSO without the page itself or missing pages of this project, commas between."""
    project = name.split("-")[0]
    references, other = [], []
    for line in lines:
        match = re.match(r"\.Xr +(\S+) +(\S+)", line)
        if not match:
            other.append(line)
            continue
        page, number = match.group(1), match.group(2)
        if (page, number) == (name, section):
            continue
        if page.startswith(project) and not os.path.exists(os.path.join(directory, f"{page}.{number}")):
            continue
        references.append(f".Xr {page} {number}")
    if other or not references:
        return other + references
    return [reference + " ," for reference in references[:-1]] + references[-1:]


def read_sources(directory):
    """The sections of docs/manual/NAME/: title to body lines, comment lines dropped."""
    sections = {}
    if not os.path.isdir(directory):
        return sections
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".mdoc"):
            continue
        title = entry[:-len(".mdoc")].replace("_", " ")
        with open(os.path.join(directory, entry), encoding="utf-8") as file:
            body = [line for line in file.read().split("\n") if not line.startswith('.\\"')]
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        sections[title] = body
    return sections


def process(text, path):
    directory = os.path.dirname(path) or "."
    name, section = os.path.basename(path).rsplit(".", 1)
    sources_directory = os.path.join(directory, "manual", name)
    sources = read_sources(sources_directory)
    self_reference = "this page"
    reference_file = os.path.join(sources_directory, "self-reference")
    if os.path.exists(reference_file):
        with open(reference_file, encoding="utf-8") as file:
            self_reference = " ".join(file.read().split())

    lines = text.split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    preamble, sections = [], []
    for line in lines:
        if line.startswith(".Sh "):
            sections.append([line[4:].strip().strip('"'), []])
        elif sections:
            sections[-1][1].append(line)
        else:
            preamble.append(line)

    # The generator's sections, then the sources' (replacing those of the same title).
    titles = [title for title, _ in sections]
    for title, body in sources.items():
        if title in titles:
            sections[titles.index(title)][1] = body
        else:
            sections.append([title, body])
            titles.append(title)

    # Conventional order; the generator's own sections stay after the one before them,
    # sections of the sources mdoc(7) does not name go before ENVIRONMENT.
    ranked, last = [], 0.0
    for position, (title, body) in enumerate(sections):
        if title in ORDER:
            rank = last = float(ORDER.index(title))
        elif title in sources:
            rank = ORDER.index("ENVIRONMENT") - 0.5
        else:
            rank = last + 0.5
        ranked.append((rank, position, title, body))
    ranked.sort(key=lambda item: (item[0], item[1]))

    out = list(preamble)
    for _, _, title, body in ranked:
        body = fix_body(body, name, section, self_reference)
        if title == "NAME":
            body = [re.sub(r'^(\.Nd .*?)\.("?)$', r"\1\2", line) if line.startswith(".Nd ") else line for line in body]
        if title == "SEE ALSO":
            body = fix_see_also(body, name, section, directory)
        out.append(".Sh " + title)
        out.extend(body)
    return "\n".join(out) + "\n"


def main(arguments):
    check = "--check" in arguments
    paths = [argument for argument in arguments if argument != "--check"]
    if not paths:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 64
    stale = False
    for path in paths:
        with open(path, encoding="utf-8") as file:
            text = file.read()
        result = process(text, path)
        if result == text:
            continue
        if check:
            stale = True
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), result.splitlines(True), path, path + " (processed)"))
            print(f"{path} is not what scripts/manual-sections.py makes of it: run make man", file=sys.stderr)
        else:
            with open(path, "w", encoding="utf-8") as file:
                file.write(result)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

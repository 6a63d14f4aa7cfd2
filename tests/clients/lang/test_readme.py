#!/usr/bin/python3
"""README "Use it from your language" (issue 12, item 8): the snippets cannot drift from the
code the tests run.

  - A block marked <!-- snippet: NAME = FILE --> must equal the region between the markers
    "snippet: NAME" and "end snippet" of FILE (a file the language's test runs).
  - A block marked <!-- snippet: NAME --> is run as written by a test (test_python.py runs
    python-install, ...); every such name must be run by one of them.
  - Every language has its snippets, and every region marked in a tested file is shown.

ES_README_UPDATE=1 rewrites the README's file-backed blocks from the files (read the diff).

Run: test_readme.py SOURCE_ROOT BUILD_ROOT
"""
import difflib
import glob
import os
import re

import harness

REQUIRED = {
    # run as written by a test          shown, equal to a region of a tested file
    "python-install": "test_python.py", "python-core": None,
    "node-install": "test_node.py", "node-core": None,
    "go-install": "test_go.py", "go-core": None,
    "rust-install": "test_rust.py", "rust-core": None,
    "c-build": "test_install.py", "c-static": None, "cmake-consumer": None,
    "cpp-build": "test_install.py", "cpp-facade": None, "cmake-cpp-consumer": None,
}

with harness.Run() as run:
    if os.environ.get("ES_README_UPDATE") == "1":
        readme = os.path.join(run.source, "README.md")
        text = open(readme, encoding="utf-8").read()

        def refresh(m):
            if not m["file"]:
                return m.group(0)
            body = harness.file_region(os.path.join(run.source, m["file"]), m["name"])
            return m.group(0)[:m.start("body") - m.start(0)] + body + "```"
        with open(readme, "w", encoding="utf-8") as f:
            f.write(harness.SNIPPET_RE.sub(refresh, text))
        run.snippets = harness.readme_snippets(run.source)
        print("README.md blocks rewritten from their files")
    snippets = run.snippets
    problems = []
    for name in REQUIRED:
        if name not in snippets:
            problems.append("README.md has no block marked <!-- snippet: %s -->" % name)
    checked = 0
    for name, (path, lang, body) in sorted(snippets.items()):
        if path is None:
            runner = REQUIRED.get(name)
            src = open(os.path.join(harness.HERE, runner)).read() if runner else ""
            if 'readme_block("%s")' % name not in src:
                problems.append("block %s is marked as run, but no test runs it" % name)
            continue
        full = os.path.join(run.source, path)
        if not os.path.isfile(full):
            problems.append("block %s: no file %s" % (name, path))
            continue
        region = harness.file_region(full, name)
        if region != body:
            problems.append("block %s differs from %s:\n%s" % (name, path, "".join(
                difflib.unified_diff(region.splitlines(True), body.splitlines(True),
                                     path, "README.md"))))
        else:
            checked += 1
            print("ok %s = %s (%d lines)" % (name, path, body.count("\n")))
    # Regions marked in the tested files are all shown in the README.
    shown = {(p, n) for n, (p, _, _) in snippets.items() if p}
    for f in glob.glob(os.path.join(harness.HERE, "**", "*"), recursive=True):
        if not os.path.isfile(f) or f.endswith((".out", ".py")):
            continue
        rel = os.path.relpath(f, run.source)
        for m in re.finditer(r"\bsnippet: ([\w-]+)\s*(?:\*/)?\s*$", open(f, encoding="utf-8").read(), re.M):
            if (rel, m.group(1)) not in shown:
                problems.append("%s marks snippet %s, but the README does not show it"
                                % (rel, m.group(1)))
    for p in problems:
        print("FAIL: " + p)
    harness.expect(not problems, "%d problem(s)" % len(problems))
    print("%d README blocks equal to tested code" % checked)

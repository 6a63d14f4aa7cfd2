#!/usr/bin/python3
"""SQL tours (issue 12, item 7): every sql/examples/*.sql except the demo (tools/dev demo runs
and checks that one) goes through the sqlite3 shell exactly as its header says
(`sqlite3 < sql/examples/NAME.sql`, from a directory where ./build/ext/eskit is the built
module), and its output (stdout and stderr, in order) must equal tours/NAME.out.

Error lines are compared up to eskit's stable code ("Runtime error near line 24: conflict:
..."), since the text after the code may be reworded; everything else exactly.
ES_GOLDEN_UPDATE=1 rewrites the .out files (read the diff before committing it).

Run: test_tours.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import difflib
import glob
import os
import re
import shutil
import subprocess

import harness

ERROR_RE = re.compile(r"^((?:Runtime|Parse) error(?: near line \d+)?: "
                      r"(?:conflict|duplicate_event|archived|tombstoned|not_found|invalid_argument): ).*$",
                      re.M)


def normalized(text):
    return ERROR_RE.sub(lambda m: m.group(1) + "…", text)


with harness.Run() as run:
    if not shutil.which("sqlite3") or not shutil.which("stdbuf"):
        harness.skip("no sqlite3 shell (apt-get install sqlite3) or stdbuf")
    work = run.path("tours")
    os.makedirs(work)
    os.symlink(run.build, os.path.join(work, "build"))
    tours = sorted(p for p in glob.glob(os.path.join(run.source, "sql", "examples", "*.sql"))
                   if os.path.basename(p) != "demo.sql")
    harness.expect(len(tours) >= 5, "expected at least 5 tours, found %r" % tours)
    failures = []
    for tour in tours:
        name = os.path.basename(tour)[:-4]
        golden = os.path.join(harness.HERE, "tours", name + ".out")
        # stdbuf keeps each error (stderr) next to the statement that caused it.
        with open(tour, "rb") as f:
            p = subprocess.run(["stdbuf", "-oL", "sqlite3"], stdin=f, cwd=work,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode("utf-8")
        if os.environ.get("ES_GOLDEN_UPDATE") == "1":
            with open(golden, "w", encoding="utf-8") as f:
                f.write(out)
            print("updated " + golden)
            continue
        if not os.path.isfile(golden):
            failures.append(name)
            print("FAIL %s: no %s; output:\n%s" % (name, golden, out))
            continue
        with open(golden, encoding="utf-8") as f:
            want = f.read()
        if normalized(out) != normalized(want):
            failures.append(name)
            print("FAIL %s:" % name)
            print("".join(difflib.unified_diff(want.splitlines(True), out.splitlines(True),
                                               "tours/%s.out" % name, "sqlite3 output")))
        else:
            rows = out.count("\n")
            errors = len(ERROR_RE.findall(out))
            print("ok %s: %d lines, %d expected error(s)" % (name, rows, errors))
        # The tour wrote only its own tour-*.db files, where it was run.
        stray = [f for f in os.listdir(work) if f != "build" and not f.startswith("tour-")]
        if stray:
            failures.append(name)
            print("FAIL %s: wrote %r" % (name, stray))
    harness.expect(not failures, "tours differ: %s" % ", ".join(failures))

#!/usr/bin/python3
"""Node (issue 12, item 3): packs the npm package staged in the build tree
(build/bindings/node: package.json, index.js, index.d.ts, eskit.so) with `npm pack`, installs
the tarball into a scratch project together with better-sqlite3@12 from the npm registry, built
from source against the local Node headers (no prebuilt binary, no header download), and runs
node/scenario.test.js under `node --test`. The commands are the README's block `node-install`,
run as written from a copy of the checkout.

Run: test_node.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import glob
import os
import re
import shutil
import subprocess
import tarfile

import harness

with harness.Run() as run:
    if "--sanitized" in run.args:
        harness.skip("sanitizer build: the npm package is tested in the normal build only "
                     "(an instrumented eskit.so needs the sanitizer runtime in every host)")
    harness.need("node", "npm", "make", "g++", "python3")
    if not os.path.isfile("/usr/include/node/node_api.h"):
        harness.skip("no Node headers in /usr/include/node (Debian's nodejs/libnode-dev ships "
                     "them); node-gyp must not download them")
    try:  # better-sqlite3 comes from the npm registry: without it there is nothing to test
        probe = subprocess.run(["npm", "view", "better-sqlite3@12", "version"], env=run.env(),
                               capture_output=True, text=True, timeout=60)
        reachable = probe.returncode == 0 and probe.stdout.strip()
    except subprocess.TimeoutExpired:
        reachable, probe = False, None
    if not reachable:
        harness.skip("the npm registry does not answer for better-sqlite3@12: %s"
                     % (probe.stderr.strip().splitlines()[-1:] if probe else "timed out"))
    src = run.checkout()
    app = run.path("app")
    os.makedirs(app)
    shutil.copy(os.path.join(harness.HERE, "node", "scenario.test.js"), app)

    out = run.shell(run.readme_block("node-install"), cwd=src, timeout=900)

    tarballs = glob.glob(os.path.join(app, "eskit-*.tgz"))
    harness.expect(len(tarballs) == 1, "expected one eskit-*.tgz, found %r" % tarballs)
    names = sorted(tarfile.open(tarballs[0]).getnames())
    expected = ["package/" + n for n in
                ("README.md", "eskit.so", "index.d.ts", "index.js", "package.json")]
    harness.expect(names == expected, "tarball content: %r" % names)
    # better-sqlite3 was compiled here (no prebuilt binary) against /usr/include/node.
    addon = os.path.join(app, "node_modules", "better-sqlite3", "build", "Release",
                         "better_sqlite3.node")
    harness.expect(os.path.isfile(addon), "better-sqlite3 was not built from source")
    gypi = glob.glob(os.path.join(app, "node_modules", "better-sqlite3", "build", "config.gypi"))
    harness.expect(gypi and '"nodedir": "/usr"' in open(gypi[0]).read(),
                   "node-gyp did not use the local Node headers (/usr)")
    harness.expect(not os.path.isdir(os.path.join(run.tmp, "cache", "node-gyp")),
                   "node-gyp downloaded headers")
    m = re.search(r"^# pass (\d+)\n# fail (\d+)", out, re.M)
    harness.expect(m and m.group(1) == "2" and m.group(2) == "0",
                   "node --test did not report 2 passed, 0 failed")

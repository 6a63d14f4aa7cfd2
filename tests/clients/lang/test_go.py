#!/usr/bin/python3
"""Go (issue 12, item 4): a scratch module that requires the eskit package (bindings/go) and
Debian's github.com/mattn/go-sqlite3 (golang-github-mattn-go-sqlite3-dev, in
/usr/share/gocode), both through replace directives, offline (GOPROXY=off), and runs
go/scenario_test.go under `go test`. The commands are the README's block `go-install`, run as
written from a copy of the checkout.

Run: test_go.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import os
import re
import shutil

import harness

GO_SQLITE3 = "/usr/share/gocode/src/github.com/mattn/go-sqlite3"

with harness.Run() as run:
    if "--sanitized" in run.args:
        harness.skip("sanitizer build: the Go package is tested in the normal build only "
                     "(an instrumented eskit.so needs the sanitizer runtime in every host)")
    harness.need("go", "gcc")
    if not os.path.isfile(os.path.join(GO_SQLITE3, "go.mod")):
        harness.skip("no %s (apt-get install golang-github-mattn-go-sqlite3-dev)" % GO_SQLITE3)
    src = run.checkout()
    app = run.path("app")
    os.makedirs(app)
    shutil.copy(os.path.join(harness.HERE, "go", "scenario_test.go"), app)

    out = run.shell(run.readme_block("go-install"), cwd=src, timeout=600)

    for test in ("TestDriver", "TestScenario"):
        harness.expect(re.search(r"^--- PASS: %s " % test, out, re.M), test + " did not pass")
    harness.expect(re.search(r"^ok\s+example\.com/app\s", out, re.M), "go test did not say ok")
    with open(os.path.join(app, "go.mod")) as f:
        gomod = f.read()
    harness.expect("=> " + GO_SQLITE3 in gomod, "go.mod does not use Debian's go-sqlite3:\n" + gomod)

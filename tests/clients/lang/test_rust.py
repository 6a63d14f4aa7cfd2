#!/usr/bin/python3
"""Rust (issue 12, item 5): a scratch crate that depends on the eskit crate (bindings/rust)
and on rusqlite 0.28 with its load_extension feature, both resolved offline from Debian's
packaged crates (librust-rusqlite-dev, directory registry /usr/share/cargo/registry) with
Debian's cargo and rustc, and runs rust/tests/scenario.rs under `cargo test` (the second
process is the crate's bin `writer`). The commands are the README's block `rust-install`, run
as written from a copy of the checkout.

Run: test_rust.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import os
import re
import shutil

import harness

REGISTRY = "/usr/share/cargo/registry"

with harness.Run() as run:
    if "--sanitized" in run.args:
        harness.skip("sanitizer build: the Rust crate is tested in the normal build only "
                     "(an instrumented eskit.so needs the sanitizer runtime in every host)")
    harness.need("cargo", "rustc", "cc")
    if not [d for d in os.listdir(REGISTRY) if d.startswith("rusqlite-0.28")] \
            if os.path.isdir(REGISTRY) else True:
        harness.skip("no rusqlite 0.28 in %s (apt-get install librust-rusqlite-dev)" % REGISTRY)
    src = run.checkout()
    app = run.path("app")
    shutil.copytree(os.path.join(harness.HERE, "rust"), app)

    out = run.shell(run.readme_block("rust-install"), cwd=src, timeout=900)

    for test in ("extension_and_codes", "scenario"):
        harness.expect(re.search(r"^test %s \.\.\. ok$" % test, out, re.M), test + " did not pass")
    harness.expect(re.search(r"^test result: ok\. 2 passed; 0 failed", out, re.M),
                   "cargo test did not report 2 passed")
    with open(os.path.join(app, "Cargo.lock")) as f:
        lock = f.read()
    harness.expect('name = "rusqlite"\nversion = "0.28.0"' in lock, "Cargo.lock has no rusqlite 0.28.0")
    harness.expect("registry+" not in lock.replace("registry+https://github.com/rust-lang/crates.io-index", ""),
                   "a crate from another registry")

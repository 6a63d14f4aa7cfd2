#!/usr/bin/python3
"""Install (issue 12, item 1): `meson install` into a DESTDIR staging tree, then a small C
consumer (c/consumer.c) built against that tree with pkg-config and with CMake
(find_package(eskit), c/CMakeLists.txt) and run: static registration through
sqlite3_auto_extension, and the installed eskit.so loaded by path (from eskit.pc's
`extension` variable and from the CMake package's ESKIT_EXTENSION). The build commands are the
README's block `c-build`, run as written with the environment pointing at the staging tree.

Run: test_install.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import json
import os
import re
import shutil
import subprocess

import harness

with harness.Run() as run:
    if "--sanitized" in run.args:
        harness.skip("sanitizer build: the installed tree is tested in the normal build only "
                     "(an instrumented libeskit_core.a needs -fsanitize in every consumer)")
    harness.need("cc", "pkg-config", "cmake", "make", "nm")
    opts = {o["name"]: o["value"] for o in json.loads(subprocess.check_output(
        ["meson", "introspect", "--buildoptions", run.build]))}
    prefix, libdir, includedir = opts["prefix"], opts["libdir"], opts["includedir"]
    stage = run.path("stage")
    run.shell("meson install -C %s --no-rebuild --destdir %s" % (run.build, stage),
              cwd=run.tmp, env=run.env(PATH=os.environ["PATH"]), quiet=True)

    root = os.path.join(stage, prefix.lstrip("/"))
    installed = sorted(os.path.relpath(os.path.join(d, f), root)
                       for d, _, files in os.walk(stage) for f in files)
    print("installed under %s:\n  %s" % (prefix, "\n  ".join(installed)))
    for want in (libdir + "/eskit/eskit.so", libdir + "/libeskit_core.a", includedir + "/eskit.h",
                 libdir + "/libeskit.a", includedir + "/eskit/eskit.hpp",
                 includedir + "/eskit/codes.h", includedir + "/eskit/detail/pp.hpp",
                 libdir + "/pkgconfig/eskit.pc", libdir + "/cmake/eskit/eskitConfig.cmake",
                 libdir + "/cmake/eskit/eskitConfigVersion.cmake"):
        harness.expect(want in installed, "not installed: " + want)
    so = os.path.join(root, libdir, "eskit", "eskit.so")
    exported = subprocess.check_output(["nm", "-D", "--defined-only", so], text=True).split()
    harness.expect([s for s in exported if not re.fullmatch(r"[0-9a-f]+|[A-Za-z]|ESKIT_.*", s)]
                   == ["sqlite3_eskit_init"], "eskit.so exports: %r" % exported)

    work = run.path("consumer")
    os.makedirs(work)
    for f in ("consumer.c", "CMakeLists.txt"):
        shutil.copy(os.path.join(harness.HERE, "c", f), work)
    env = run.env(PKG_CONFIG_PATH=os.path.join(root, libdir, "pkgconfig"),
                  PKG_CONFIG_SYSROOT_DIR=stage,  # the .pc says /usr/local: map it into the stage
                  CMAKE_PREFIX_PATH=root)
    out = run.shell(run.readme_block("c-build"), cwd=work, env=env)

    # pkg-config build: static core + the module named by `extension`; CMake build likewise.
    harness.expect(out.count("ok: static core, es_version ") == 2, "both consumers must pass")
    harness.expect(out.count("loaded %s: es_version" % so) == 2,
                   "both consumers must load the installed eskit.so")
    harness.expect("stale append -> conflict: " in out, "no conflict reported")
    with open(os.path.join(work, "build-cmake", "extension.txt")) as f:
        harness.expect(f.read() == so, "ESKIT_EXTENSION is not the installed eskit.so")
    # The version file: 0.1 is accepted (above); another minor version is refused.
    probe = os.path.join(work, "probe")
    os.makedirs(probe)
    with open(os.path.join(probe, "CMakeLists.txt"), "w") as f:
        f.write("cmake_minimum_required(VERSION 3.16)\nproject(p C)\nfind_package(eskit 0.2 REQUIRED)\n")
    p = subprocess.run(["cmake", "-S", probe, "-B", os.path.join(probe, "b")], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    harness.expect(p.returncode != 0 and "0.2" in p.stdout,
                   "find_package(eskit 0.2) should fail against 0.1:\n" + p.stdout)
    print("find_package(eskit 0.2) refused, as it should be")

    # The C++ facade from the installed tree: the README's program (cpp/consumer.cpp), built
    # with pkg-config and with CMake (README block `cpp-build`), run twice on one file.
    harness.need("c++")
    cpp = run.path("cpp-consumer")
    os.makedirs(cpp)
    for f in ("consumer.cpp", "CMakeLists.txt"):
        shutil.copy(os.path.join(harness.HERE, "cpp", f), cpp)
    out = run.shell(run.readme_block("cpp-build"), cwd=cpp, env=env)
    harness.expect(out.count("conflict: account-1 is at version 3, expected 1") == 1
                   and out.count("conflict: account-4 is at version 3, expected 1") == 1,
                   "the pkg-config and CMake builds must each report their conflict:\n" + out)
    harness.expect(out.count("balance of account-1: 7800 cents") == 1
                   and out.count("balance of account-4: 7800 cents") == 1,
                   "wrong balances:\n" + out)
    harness.expect("account-4 v3 seq 6 Deposited" in out, "the second run must continue the log")

#!/usr/bin/python3
"""Python (issue 12, item 2): builds the wheel from the meson project with Debian's
meson-python, offline and without build isolation, installs it into a fresh venv of Debian's
python3 and runs the scenario (python/scenario.py) from a directory outside the checkout.
The commands are the README's block `python-install`, run as written from a copy of the
checkout.

Run: test_python.py SOURCE_ROOT BUILD_ROOT [--sanitized]
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import zipfile

import harness

with harness.Run() as run:
    if "--sanitized" in run.args:
        harness.skip("sanitizer build: the wheel is tested in the normal build only "
                     "(an instrumented eskit.so needs the sanitizer runtime in every host)")
    harness.need("python3", "meson", "ninja")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import mesonpy, pip, ensurepip, venv"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        harness.skip("Debian's python3 lacks meson-python, pip or venv "
                     "(apt-get install python3-mesonpy python3-pip python3-venv): "
                     + probe.stderr.strip().splitlines()[-1])
    src = run.checkout()
    app = run.path("app")
    os.makedirs(app)
    shutil.copy(os.path.join(harness.HERE, "python", "scenario.py"), app)

    out = run.shell(run.readme_block("python-install"), cwd=src, timeout=900)

    wheels = glob.glob(os.path.join(src, "dist", "eskit-*.whl"))
    harness.expect(len(wheels) == 1, "expected one wheel in dist/, found %r" % wheels)
    names = sorted(n for n in zipfile.ZipFile(wheels[0]).namelist() if ".dist-info/" not in n)
    harness.expect(names == ["eskit/__init__.py", "eskit/eskit.so", "eskit/py.typed"],
                   "wheel content: %r" % names)
    print("wheel %s: %s" % (os.path.basename(wheels[0]), ", ".join(names)))
    # The scenario ran from ../app with the venv's python: unittest's verdict is in the output.
    harness.expect(re.search(r"^test_scenario \S+ \.\.\. ok$", out, re.M)
                   and re.search(r"^OK$", out, re.M), "the scenario did not pass")
    # Nothing was built or written into the real checkout.
    leftovers = [p for p in os.listdir(run.source)
                 if p.startswith(".mesonpy") or p == "dist"]
    harness.expect(not leftovers, "written into the source tree: %r" % leftovers)

"""Shared by the issue-12 tests ("Use it from your language"): each test follows a README
section the way a user would, in a scratch directory, and fails with the output of the step
that failed.

    harness.Run(source_root, build_root)   parses argv, owns the scratch dir (removed at exit
                                           unless ESKIT_KEEP_SCRATCH=1)
    run.checkout()                         a copy of the checkout (no .git, no build dirs) with
                                           `build` linked to the meson build dir, as a user's
                                           tree after `meson compile -C build`
    run.readme_block(name)                 the README code block marked <!-- snippet: name -->
    run.shell(script, cwd)                 bash -euo pipefail, with Debian's PATH
    skip(reason)                           exit 77 (meson: SKIP) with the reason printed

The snippets run with Debian's default PATH (/usr/sbin:/usr/bin:/sbin:/bin), so they use the
toolchains a fresh Debian 12 machine has (Debian's python3, cargo, go, node), not the ones a
developer may have added (rustup, pyenv). Tool caches (npm, Go, cargo, pip) live in the scratch
directory; nothing is written into the source tree.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

SKIP = 77
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
HERE = os.path.dirname(os.path.abspath(__file__))

# The README marks each snippet with an HTML comment right before its fenced block:
#   <!-- snippet: node-install -->                     a block a test runs as written
#   <!-- snippet: node-core = tests/clients/lang/node/scenario.test.js -->
#                                                      a block that must equal the region
#                                                      "snippet: node-core" ... "end snippet"
#                                                      of that file (test_readme.py checks)
SNIPPET_RE = re.compile(
    r"<!-- snippet: (?P<name>[\w-]+)(?: = (?P<file>[^ ]+))? -->\n```(?P<lang>\w*)\n(?P<body>.*?)^```",
    re.S | re.M)


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


def readme_snippets(source_root):
    """{name: (file or None, lang, body)} for every marked block of README.md."""
    with open(os.path.join(source_root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    out = {}
    for m in SNIPPET_RE.finditer(text):
        if m["name"] in out:
            fail("README.md marks two blocks as snippet %r" % m["name"])
        out[m["name"]] = (m["file"], m["lang"], m["body"])
    return out


def file_region(path, name):
    """The lines between the markers 'snippet: NAME' and 'end snippet' (any comment style:
    '# ', '// ', '/* ... */'), without the marker lines, dedented."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    start = [i for i, l in enumerate(lines)
             if re.search(r"\bsnippet: %s\s*(\*/)?\s*$" % re.escape(name), l)]
    if len(start) != 1:
        fail("%s: %d markers 'snippet: %s', expected 1" % (path, len(start), name))
    for j in range(start[0] + 1, len(lines)):
        if re.search(r"\bend snippet\s*(\*/)?\s*$", lines[j]):
            return textwrap.dedent("".join(lines[start[0] + 1:j]))
    fail("%s: snippet %s has no 'end snippet'" % (path, name))


class Run:
    def __init__(self, argv=None):
        argv = sys.argv if argv is None else argv
        if len(argv) < 3:
            fail("usage: %s SOURCE_ROOT BUILD_ROOT [args...]" % argv[0])
        self.source = os.path.abspath(argv[1])
        self.build = os.path.abspath(argv[2])
        self.args = argv[3:]
        self.tmp = tempfile.mkdtemp(prefix="eskit-%s-" % os.path.basename(argv[0])[:-3])
        self.t0 = time.monotonic()
        self.snippets = readme_snippets(self.source)
        self._checkout = None

    def close(self):
        if os.environ.get("ESKIT_KEEP_SCRATCH") == "1":
            print("scratch kept: " + self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        print("done in %.1f s" % (time.monotonic() - self.t0), flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def checkout(self):
        """A copy of the source tree in the scratch dir, `build` linked to the build dir."""
        if self._checkout:
            return self._checkout
        dst = self.path("eskit")

        def ignore(d, names):
            top = os.path.abspath(d) == self.source
            return {n for n in names
                    if n in (".git", "__pycache__") or n.startswith(".mesonpy")
                    or (top and n.startswith("build")) or n.endswith((".db", ".db-wal", ".db-shm"))
                    or os.path.abspath(os.path.join(d, n)) == self.build}
        shutil.copytree(self.source, dst, ignore=ignore, symlinks=True)
        os.symlink(self.build, os.path.join(dst, "build"))
        self._checkout = dst
        return dst

    def readme_block(self, name):
        if name not in self.snippets:
            fail("README.md has no block marked <!-- snippet: %s -->" % name)
        return self.snippets[name][2]

    def env(self, **extra):
        env = dict(os.environ)
        env["PATH"] = DEBIAN_PATH
        for k in ("PYTHONPATH", "VIRTUAL_ENV", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR", "GOFLAGS",
                  "NODE_PATH", "LD_PRELOAD"):
            env.pop(k, None)
        env.update({
            "npm_config_cache": self.path("cache", "npm"),
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "GOCACHE": self.path("cache", "go-build"),
            "GOPATH": self.path("cache", "gopath"),
            "CARGO_HOME": self.path("cache", "cargo"),
            "PIP_CACHE_DIR": self.path("cache", "pip"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        })
        env.update(extra)
        return env

    def shell(self, script, cwd, timeout=600, env=None, quiet=False):
        """Runs `script` with bash -euo pipefail; prints it and its output; fails the test on a
        non-zero exit. Returns stdout+stderr."""
        print("$ (cd %s)\n%s" % (cwd, textwrap.indent(script.rstrip(), "  ")), flush=True)
        t = time.monotonic()
        try:
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                               env=env or self.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            print(e.stdout or "")
            fail("timed out after %d s" % timeout)
        out = p.stdout
        if not quiet or p.returncode != 0:
            print(textwrap.indent(out.rstrip(), "  | "))
        print("  (exit %d, %.1f s)" % (p.returncode, time.monotonic() - t), flush=True)
        if p.returncode != 0:
            fail("the command above exited %d" % p.returncode)
        return out


def need(*programs):
    """Skips (77) unless every program is on Debian's PATH."""
    missing = [p for p in programs if not shutil.which(p, path=DEBIAN_PATH)]
    if missing:
        skip("not installed: %s (tools/dev test installs it)" % ", ".join(missing))


def expect(cond, message):
    if not cond:
        fail(message)

#!/usr/bin/env python3
"""tokio's own integration tests and example programs, run against tickslab by the rename.

Nothing of tokio's is changed: the test files are linked, at run time, from the published
tokio crate in the cargo registry into a scratch crate whose Cargo.toml says
`tokio = { package = "tickslab", path = "<repo>" }`; the example programs are the unmodified
copies in `examples/`. See README.md in this folder for the modes and the outputs.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import drive  # noqa: E402
import gaps  # noqa: E402
import setaside  # noqa: E402
from exclusions import EXCLUDED  # noqa: E402

TOKIO_VERSION = os.environ.get("TOKIO_COMPAT_TOKIO_VERSION", "1.54.1")
# The tickslab tree under test: this repository unless told otherwise (a preview merge).
TICKSLAB = os.path.abspath(os.environ.get("TOKIO_COMPAT_TICKSLAB", ROOT))
# A run against another tree (a preview merge) keeps its compiling list in its scratch dir
# and adds nothing to history.json.
OWN_TREE = TICKSLAB == ROOT
SCRATCH = os.environ.get("TOKIO_COMPAT_SCRATCH", os.path.join(HERE, "scratch"))
EXAMPLES = ["echo-tcp", "echo-udp", "udp-client", "proxy", "chat", "print_each_packet"]
# What tokio's test suite is run with: `--features full` plus `test-util` (tokio-test enables
# it on tokio through feature unification).
HARNESS_FEATURES = {
    "full": ["fs", "io-util", "io-std", "macros", "net", "parking_lot", "process", "rt",
             "rt-multi-thread", "signal", "sync", "time"],
    "test-util": [],
}
WANTED_TICKSLAB_FEATURES = ["full", "test-util", "tokio-io"]
ONE_BINARY = "all_in_one"

# tokio-test as a user switching from tokio renames it, next to tokio: tickslab's own
# tokio-test (`test-util/`, package `tickslab-test`), whose io::Mock and block_on speak
# tickslab. Trees without it (before the crate existed) keep the real tokio-test.
TOKIO_TEST_CRATE = os.path.join(TICKSLAB, "test-util")
TOKIO_TEST_RENAMED = os.path.exists(os.path.join(TOKIO_TEST_CRATE, "Cargo.toml"))
TOKIO_TEST_REAL = 'tokio-test = "0.4.0"'
TOKIO_TEST_DEP = (
    f'tokio-test = {{ package = "tickslab-test", path = "{TOKIO_TEST_CRATE}" }}'
    if TOKIO_TEST_RENAMED else TOKIO_TEST_REAL)

DEV_DEPS = """\
# tokio's own dev-dependencies that its test files use (1.54.1's Cargo.toml), except that
# tokio-test is renamed as tokio is (the line below; the real one when the tree has no
# tickslab-test). tokio-stream depends on the real tokio: its generic helpers (StreamExt)
# work on any stream, its wrappers (ReceiverStream) wrap the real tokio's types.
futures = { version = "0.3.0", features = ["async-await"] }
# A normal dependency of tokio, which its tests use (`pin_project!`).
pin-project-lite = "0.2.11"
@TOKIO_TEST@
tokio-stream = "0.1"
tempfile = "3.1.0"
rand = "0.9"
socket2 = "0.6.0"
libc = "0.2.168"
nix = { version = "0.31.0", default-features = false, features = ["aio", "fs", "socket"] }
# tokio's examples (chat, print_each_packet).
tokio-util = { version = "0.7.0", features = ["codec"] }
bytes = "1.0.0"
tracing = "0.1"
tracing-subscriber = { version = "0.3.1", default-features = false, features = ["fmt", "ansi", "env-filter", "tracing-log"] }
"""


def log(*a):
    print("[tokio-compat]", *a, file=sys.stderr, flush=True)


def run(cmd, cwd=None, **kw):
    return subprocess.run(cmd, cwd=cwd, text=True, **kw)


def cargo_env():
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    env["CARGO_TERM_COLOR"] = "never"
    return env


def git(*args):
    r = run(["git", *args], cwd=TICKSLAB, capture_output=True)
    return r.stdout.strip()


# ---------------------------------------------------------------- setup


def tickslab_features():
    r = run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=TICKSLAB,
            capture_output=True, env=cargo_env())
    if r.returncode != 0:
        sys.exit(f"cargo metadata in {TICKSLAB} failed:\n{r.stderr}")
    meta = json.loads(r.stdout)
    pkg = next(p for p in meta["packages"] if p["name"] == "tickslab")
    return [f for f in WANTED_TICKSLAB_FEATURES if f in pkg["features"]]


def locate_tokio_tests():
    d = os.path.join(SCRATCH, "locate")
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    write(os.path.join(d, "Cargo.toml"), f"""\
[package]
name = "locate-tokio"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
tokio = {{ version = "={TOKIO_VERSION}", default-features = false }}
""")
    write(os.path.join(d, "src", "lib.rs"), "")
    r = run(["cargo", "metadata", "--format-version", "1"], cwd=d, capture_output=True,
            env=cargo_env())
    if r.returncode != 0:
        sys.exit(f"cargo metadata for tokio {TOKIO_VERSION} failed:\n{r.stderr}")
    meta = json.loads(r.stdout)
    pkg = next(p for p in meta["packages"] if p["name"] == "tokio")
    tests = os.path.join(os.path.dirname(pkg["manifest_path"]), "tests")
    if not os.path.isdir(tests):
        sys.exit(f"{tests}: the tokio crate has no tests/ folder")
    return tests


def write(path, text):
    if os.path.exists(path) and open(path).read() == text:
        return
    with open(path, "w") as f:
        f.write(text)


def link(src, dst):
    if os.path.islink(dst) and os.readlink(dst) == src:
        return
    if os.path.lexists(dst):
        os.remove(dst) if not os.path.isdir(dst) or os.path.islink(dst) else shutil.rmtree(dst)
    os.symlink(src, dst)


def features_toml():
    lines = ["[features]", 'default = ["full", "test-util"]']
    members = sorted({m for ms in HARNESS_FEATURES.values() for m in ms})
    for name, ms in HARNESS_FEATURES.items():
        lines.append(f"{name} = {json.dumps(ms)}")
    for m in members:
        lines.append(f"{m} = []")
    return "\n".join(lines) + "\n"


def make_crate(dir_, name, tokio_dep, files, tests_dir, examples, one_binary_files,
               tokio_test_dep=TOKIO_TEST_REAL, extra_tests=()):
    """The scratch crate: tokio's test files linked into tests/, one `[[test]]` per file (and
    per name of `extra_tests`, files that the harness wrote into tests/ itself: setaside.py's
    pruned copies), the one-binary target and the examples."""
    os.makedirs(os.path.join(dir_, "src"), exist_ok=True)
    os.makedirs(os.path.join(dir_, "tests"), exist_ok=True)
    os.makedirs(os.path.join(dir_, "examples"), exist_ok=True)
    write(os.path.join(dir_, "src", "lib.rs"), "")
    for f in os.listdir(tests_dir):
        link(os.path.join(tests_dir, f), os.path.join(dir_, "tests", f))
    for ex in EXAMPLES:
        link(os.path.join(HERE, "examples", ex + ".rs"), os.path.join(dir_, "examples", ex + ".rs"))
    mods = "".join(
        f'#[path = "{f}"]\nmod {f[:-3]};\n' for f in sorted(one_binary_files)
    )
    write(os.path.join(dir_, "tests", ONE_BINARY + ".rs"),
          "// Generated by tokio-compat/harness.py: tokio's test files as modules of one binary.\n"
          + mods)
    targets = "".join(f'[[test]]\nname = "{f[:-3]}"\npath = "tests/{f}"\n\n' for f in files)
    targets += "".join(f'[[test]]\nname = "{t}"\npath = "tests/{t}.rs"\n\n' for t in extra_tests)
    targets += f'[[test]]\nname = "{ONE_BINARY}"\npath = "tests/{ONE_BINARY}.rs"\n\n'
    if examples:
        targets += "".join(f'[[example]]\nname = "{e}"\npath = "examples/{e}.rs"\n\n' for e in EXAMPLES)
    write(os.path.join(dir_, "Cargo.toml"), f"""\
# Generated by tokio-compat/harness.py; do not edit (edit the harness).
# tokio's tests run where tokio's own Cargo.toml is, and `rt_handle_block_on::basic_fs` reads
# it back looking for tokio's homepage, https://tokio.rs: this line stands in for tokio's.
[package]
name = "{name}"
version = "0.0.0"
edition = "2021"
publish = false
autotests = false
autoexamples = false
autobins = false

[workspace]

{features_toml()}
[dependencies]
{tokio_dep}

[dev-dependencies]
{DEV_DEPS.replace("@TOKIO_TEST@", tokio_test_dep)}
[profile.dev]
debug = false

{targets}""")
    lock = os.path.join(dir_, "Cargo.lock")
    if not os.path.exists(lock) and os.path.exists(os.path.join(ROOT, "Cargo.lock")):
        shutil.copy(os.path.join(ROOT, "Cargo.lock"), lock)


# ---------------------------------------------------------------- build


def build(dir_, test_names, example_names):
    """Compile targets with --keep-going; per target: errors (rustc JSON) and executable."""
    cmd = ["cargo", "build", "--keep-going", "--message-format=json"]
    for t in test_names:
        cmd += ["--test", t]
    for e in example_names:
        cmd += ["--example", e]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=dir_, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=cargo_env())
    out = {}
    stderr_lines = []

    import threading

    def pump_err():
        for line in p.stderr:
            stderr_lines.append(line)

    th = threading.Thread(target=pump_err, daemon=True)
    th.start()
    for line in p.stdout:
        try:
            m = json.loads(line)
        except ValueError:
            continue
        tgt = m.get("target") or {}
        if m.get("reason") == "compiler-message":
            d = m["message"]
            if d.get("level") != "error":
                continue
            if not ({"test", "example"} & set(tgt.get("kind", []))):
                # An error in a dependency (tickslab itself): every target fails.
                out.setdefault("__deps__", {"errors": [], "exe": None})["errors"].append(d)
                continue
            out.setdefault(tgt["name"], {"errors": [], "exe": None})["errors"].append(d)
        elif m.get("reason") == "compiler-artifact" and m.get("executable"):
            out.setdefault(tgt["name"], {"errors": [], "exe": None})["exe"] = m["executable"]
    p.wait()
    th.join()
    secs = time.monotonic() - t0
    if "__deps__" in out:
        msgs = "\n".join(gaps.one_line(d) for d in out["__deps__"]["errors"][:10])
        log(f"a dependency failed to compile:\n{msgs}\n{''.join(stderr_lines[-20:])}")
    return out, secs, "".join(stderr_lines)


# ---------------------------------------------------------------- run

RESULT = re.compile(r"^test (\S+)(?: - should panic)? \.\.\. (ok|FAILED|ignored)", re.M)


def list_tests(exe, cwd, filt=None):
    r = run([exe, "--list", "--format", "terse", *([filt] if filt else [])], cwd=cwd,
            capture_output=True)
    return [l[: -len(": test")] for l in r.stdout.splitlines() if l.endswith(": test")]


IDLE = 20  # seconds without a new test result before a test binary counts as hung


def watch(cmd, cwd, env, timeout, idle):
    """Run a test binary and return its output; kill it when no test has reported for
    `idle` seconds (a hang) or after `timeout` seconds in all."""
    import threading
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, errors="replace")
    lines = []
    last = [time.monotonic()]

    def pump():
        for line in p.stdout:
            lines.append(line)
            if line.startswith("test "):
                last[0] = time.monotonic()

    th = threading.Thread(target=pump, daemon=True)
    th.start()
    start = time.monotonic()
    note = ""
    while p.poll() is None:
        now = time.monotonic()
        if now - last[0] > idle or now - start > timeout:
            note = f"\n[tokio-compat] killed: no test result for {idle} s\n" if now - last[0] > idle \
                else f"\n[tokio-compat] killed after {timeout} s\n"
            p.kill()
            break
        time.sleep(0.2)
    p.wait()
    th.join(timeout=5)
    return "".join(lines) + note


def run_tests(exe, cwd, timeout, per_test_timeout, max_reruns, filt=None):
    """Run one test binary (or the tests of its module `filt`); tests it never reports
    (hang, abort) are re-run one by one."""
    names = list_tests(exe, cwd, filt)
    if filt:
        names = [n for n in names if n.startswith(filt)]
    env = dict(os.environ, RUST_BACKTRACE="0")
    status = {}
    output = ""
    output = watch([exe, *([filt] if filt else [])], cwd, env, timeout, IDLE)
    for name, st in RESULT.findall(output):
        status[name] = st
    missing = [n for n in names if n not in status]
    for n in missing[:max_reruns]:
        try:
            r = run([exe, "--exact", n], cwd=cwd, capture_output=True, timeout=per_test_timeout, env=env)
            found = dict(RESULT.findall(r.stdout))
            status[n] = found.get(n, "FAILED")
            if found.get(n) == "FAILED":
                output += "\n" + r.stdout  # its panic, for the failure list
            if n not in found:
                status[n] = "crashed"
                output += f"\n[tokio-compat] {n}: exited with {r.returncode} without a result\n" + r.stderr[-2000:]
        except subprocess.TimeoutExpired:
            status[n] = "hung"
    for n in missing[max_reruns:]:
        status[n] = "hung"
    # A failure whose panic the output lacks (another test of the binary had swapped the
    # process's panic hook, as tokio's support/panic.rs does) is re-run alone for its message;
    # its status stays the full run's.
    silent = [n for n in names if status.get(n) == "FAILED"
              and not re.search(r"panicked at|^note: ", _section(output, n), re.M)]
    for n in silent[:max_reruns]:
        try:
            r = run([exe, "--exact", n], cwd=cwd, capture_output=True, timeout=per_test_timeout, env=env)
            if "panicked at" in _section(r.stdout, n):
                output += "\n" + r.stdout
        except subprocess.TimeoutExpired:
            pass
    status = {n: s for n, s in status.items() if n in names}
    return names, status, output


def _section(output, name):
    """What libtest printed under `---- name stdout ----` (the last such section)."""
    found = list(re.finditer(r"^---- " + re.escape(name) + r" stdout ----\n", output, re.M))
    if not found:
        return ""
    return output[found[-1].end():].split("\n---- ", 1)[0].split("\nfailures:", 1)[0]


def failures(output, prefix=""):
    """{test name: first line of its panic} for every failed test in libtest's output."""
    out = {}
    for m in re.finditer(r"^---- (" + re.escape(prefix) + r"\S+) stdout ----\n", output, re.M):
        body = output[m.end():].split("\n---- ", 1)[0].split("\nfailures:", 1)[0]
        ps = re.findall(r"panicked at ([^\n]*):\n([^\n]+)", body)
        msg = f"{ps[0][1].strip()[:200]} ({ps[0][0].split('/')[-1]})" if ps else \
            next((l for l in body.splitlines() if l.strip()), "").strip()[:200]
        if len(ps) > 1 and ps[-1] != ps[0]:
            # The first panic may be one the test provokes (a task's, caught as a JoinError);
            # the last is what failed the test.
            msg += f"; last panic: {ps[-1][1].strip()[:150]} ({ps[-1][0].split('/')[-1]})"
        out[m.group(1)[len(prefix):]] = msg
    return out


def first_failure(output, prefix=""):
    """`test_name: first line of its panic` for the first failed test in libtest's output."""
    for m in re.finditer(r"^---- (" + re.escape(prefix) + r"\S+) stdout ----\n", output, re.M):
        body = output[m.end():].split("\n---- ", 1)[0].split("\nfailures:", 1)[0]
        p = re.search(r"panicked at [^\n]*:\n([^\n]+)", body)
        msg = p.group(1) if p else next((l for l in body.splitlines() if l.strip()), "")
        return f"{m.group(1)[len(prefix):]}: {msg.strip()[:150]}"
    return ""


# ---------------------------------------------------------------- reference counts


def one_binary_ok(tests_dir, f):
    """A file that names `crate::` means its own root: it must stay a binary of its own."""
    return not re.search(r"\bcrate::", open(os.path.join(tests_dir, f)).read())


def reference_counts(tests_dir, files, examples):
    """Tests per file as tokio itself builds them (real tokio, same features, Linux)."""
    data = reference_data()
    if data.get("tokio") == TOKIO_VERSION and all(f in data["counts"] for f in files) \
            and all(f in data.get("names", {}) for f in files):
        return data["counts"]
    log("counting tokio's own tests per file (real tokio, all files in one binary)")
    d = os.path.join(SCRATCH, "reference")
    dep = f'tokio = {{ version = "={TOKIO_VERSION}", features = ["full", "test-util"] }}'
    together = [f for f in files if one_binary_ok(tests_dir, f)]
    alone = [f for f in files if f not in together]
    make_crate(d, "tokio-compat-reference", dep, files, tests_dir, False, together)
    out, secs, err = build(d, [ONE_BINARY] + [f[:-3] for f in alone], [])
    exe = out.get(ONE_BINARY, {}).get("exe")
    if not exe or not all(out.get(f[:-3], {}).get("exe") for f in alone):
        sys.exit("the reference build (real tokio) failed:\n" + err[-4000:])
    names = {f: [] for f in files}
    for name in list_tests(exe, d):
        names[name.split("::")[0] + ".rs"].append(name.split("::", 1)[1])
    for f in alone:
        names[f] = list_tests(out[f[:-3]]["exe"], d)
    counts = {f: len(ns) for f, ns in names.items()}
    json.dump({"tokio": TOKIO_VERSION, "counts": counts, "names": names}, open(REFERENCE, "w"),
              indent=1, sort_keys=True)
    return counts


REFERENCE = os.path.join(HERE, "reference-counts.json")


def reference_data():
    """reference-counts.json: per file of tokio's tests, how many tests (`counts`) and which
    (`names`, without the file's module) tokio's own build lists."""
    return json.load(open(REFERENCE)) if os.path.exists(REFERENCE) else {}


# ---------------------------------------------------------------- report


def summarize(files, refc, built, results):
    rows = []
    for f in files:
        t = f[:-3]
        b = built.get(t, {"errors": [], "exe": None})
        res = results.get(t)
        # A file with no test functions (async_send_sync: compile-time assertions only)
        # counts as one test that passes when the file compiles.
        compile_only = refc.get(f, 0) == 0
        row = {"file": f, "compiles": bool(b["exe"]), "tests": refc.get(f, 0) or 1,
               "passed": 0, "failed": 0, "ignored": 0, "unfinished": 0, "note": "", "keys": []}
        if b["errors"]:
            row["note"] = gaps.one_line(b["errors"][0])
            keys = []
            for d in b["errors"]:
                for k in gaps.keys_of(d):
                    if k not in keys:
                        keys.append(k)
            row["keys"] = keys
            row["errors"] = len(b["errors"])
        if res:
            names, status, output = res[:3]
            prefix = res[3] if len(res) > 3 else ""
            row["listed"] = len(names)
            for st in status.values():
                if st == "ok":
                    row["passed"] += 1
                elif st == "ignored":
                    row["ignored"] += 1
                elif st in ("hung", "crashed"):
                    row["unfinished"] += 1
                else:
                    row["failed"] += 1
            hung = sorted(n for n, s in status.items() if s in ("hung", "crashed"))
            note = first_failure(output, prefix)
            fails = failures(output, prefix)
            row["failures"] = {n[len(prefix):]: ("hung: no result (alone, 15 s)" if st == "hung" else
                                                 "crashed: the process died without a result" if st == "crashed" else
                                                 fails.get(n[len(prefix):], "failed"))
                               for n, st in sorted(status.items()) if st not in ("ok", "ignored")}
            if hung:
                note = (note + "; " if note else "") + f"{len(hung)} hung/crashed: " + ", ".join(hung[:3])
            row["note"] = note
        if compile_only and row["compiles"]:
            row["passed"] = 1
        rows.append(row)
    return rows


def rates(rows):
    n = len(rows)
    comp = sum(r["compiles"] for r in rows)
    tests = sum(r["tests"] for r in rows)
    passed = sum(min(r["passed"], r["tests"]) for r in rows)
    clean = sum(1 for r in rows if r["compiles"] and r["failed"] == 0 and r["unfinished"] == 0)
    return {"files": n, "compiling": comp, "clean": clean, "tests": tests, "passing": passed}


def esc(s):
    return s.replace("|", "\\|").replace("\n", " ")


def pct(a, b):
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def gap_list(rows):
    by = {}
    for r in rows:
        for k in r["keys"]:
            by.setdefault(k, []).append(r["file"][:-3])
    return sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def render(meta, rows, excluded, examples, history, timing, sa=None, refc=None, mode="each"):
    R = rates(rows)
    out = []
    w = out.append
    w("# tokio's tests and examples on tickslab, by the rename alone\n")
    w("Generated by `tokio-compat/run.sh` (see `tokio-compat/README.md`); edit the harness, "
      "not this file.\n")
    w(f"- tickslab commit: `{meta['commit']}` ({meta['subject']}); main at `{meta['main']}`")
    w(f"- tokio test files: tokio {TOKIO_VERSION} as published (`{meta['tests_dir']}`), unmodified")
    w(f"- tickslab features enabled by the renamed line: `{json.dumps(meta['features'])}`")
    if meta.get("tokio_test_renamed"):
        w("- tokio-test renamed to tickslab-test: the dev-dependency line is "
          "`tokio-test = { package = \"tickslab-test\", path = \"<tickslab>/test-util\" }`, as a user "
          "switching renames it (its `io::Mock` and `block_on` speak tickslab)")
    else:
        w("- tokio-test: the real one (this tree has no `test-util/`), bound to the real tokio")
    w(f"- date: {meta['date']}\n")
    w("## Rates\n")
    w("| measure | count | rate |\n|---|---|---|")
    w(f"| applicable test files that compile | {R['compiling']} / {R['files']} | {pct(R['compiling'], R['files'])} |")
    w(f"| applicable files whose every test passes | {R['clean']} / {R['files']} | {pct(R['clean'], R['files'])} |")
    w(f"| tests passing / tests in applicable files | {R['passing']} / {R['tests']} | {pct(R['passing'], R['tests'])} |")
    ex_ok = sum(1 for e in examples if e["compiles"])
    ex_srv = sum(1 for e in examples if e.get("served"))
    w(f"| example programs that compile | {ex_ok} / {len(examples)} | {pct(ex_ok, len(examples))} |")
    w(f"| example programs that serve a loopback client | {ex_srv} / {len(examples)} | {pct(ex_srv, len(examples))} |")
    w("")
    w("Tests in applicable files: the number of tests tokio's own build of each file lists "
      "(real tokio, same features, this OS), from `reference-counts.json`; a file that does not "
      "compile counts all its tests as not passing. "
      f"{len(excluded)} of tokio's {len(excluded) + len(rows)} test files are left out as not "
      "applicable to a single-threaded runtime (listed at the end).\n")
    if sa is not None:
        SA = setaside.rates(R, rows, sa["files"], sa["rows"])
        w(f"Beside these, by the second measure (section \"Set aside by design\"): "
          f"{SA['passing']} of the {SA['tests']} tests left once {SA['set_aside']} tests that move "
          f"a `!Send` value to another thread are set aside and {SA['by_design']} that fail as "
          f"multi-thread by design are left out pass ({pct(SA['passing'], SA['tests'])}).\n")
    if timing:
        w("Build times (this run): " + "; ".join(f"{k}: {v}" for k, v in timing.items()) + "\n")
    if history:
        w("## History (each run against a tickslab commit)\n")
        w("| main at | tested commit | files compiling | tests passing | examples (of 6) compile / serve "
          "| tests passing, less set aside and by design |")
        w("|---|---|---|---|---|---|")
        for h in history:
            second = f"{h['sa_passing']}/{h['sa_tests']}" if "sa_tests" in h else "-"
            w(f"| `{h.get('main', '?')}` | `{h['commit']}` {h['subject'][:50]} | {h['compiling']}/{h['files']} | "
              f"{h['passing']}/{h['tests']} | {h['ex_compile']}/{h['ex_serve']} | {second} |")
        w("")
    w("## Gap list: what blocks compiling, by missing item\n")
    w("One line per distinct compile error kind, with the number of applicable test files "
      "(and examples) it blocks, most first. rustc reports the items that do not resolve "
      "before it type-checks, so a file's later errors (methods, signatures) appear only "
      "once its imports resolve.\n")
    ex_rows = [{"file": "example:" + e["name"] + ".rs", "keys": e.get("keys", [])} for e in examples]
    gl = gap_list(rows + ex_rows)
    sole = {}
    for r in rows + ex_rows:
        if len(r["keys"]) == 1:
            sole[r["keys"][0]] = sole.get(r["keys"][0], 0) + 1
    w("`only gap of`: the number of files for which this is the only compile error kind "
      "left, so fixing it alone makes them compile.\n")
    w("Most blocking first:\n")
    for k, fs in gl[:15]:
        w(f"1. **{len(fs)} files**: {k}")
    w("")
    by_area = {}
    for k, fs in gl:
        by_area.setdefault(gaps.area_of(k), []).append((k, fs))
    order = sorted(by_area, key=lambda a: -len({f for _, fs in by_area[a] for f in fs}))
    for area in order:
        blocked = {f for _, fs in by_area[area] for f in fs}
        w(f"### {area}: {len(blocked)} files\n")
        w("| files | only gap of | gap | blocked files |\n|---|---|---|---|")
        for k, fs in by_area[area]:
            shown = ", ".join(fs[:12]) + (f", … (+{len(fs) - 12})" if len(fs) > 12 else "")
            w(f"| {len(fs)} | {sole.get(k, 0) or ''} | {esc(k)} | {shown} |")
        w("")
    w("## Run-time failures in the files that compile\n")
    w("Behaviour that differs from tokio's, by test (the panic's first line and where; and "
      "the last panic's when the test panicked more than once: the first may be one the test "
      "provokes on purpose).\n")
    any_f = False
    for r in rows:
        for n, msg in (r.get("failures") or {}).items():
            any_f = True
            mark = "**by design** (multi-thread refused at run time): " if setaside.by_design(msg) else ""
            w(f"- `{r['file'][:-3]}::{n}`: {mark}{esc(msg)}")
    if not any_f:
        w("None.")
    w("")
    setaside.render(w, esc, pct, dict(R, refc=refc or {}), rows, sa,
                    "`--mode one` builds only the files of compiling.txt" if mode == "one"
                    else "`--no-set-aside`, or a run saved before the measure existed")
    w("## Examples\n")
    w("| example | compiles | served a client | first error / note |\n|---|---|---|---|")
    for e in examples:
        w(f"| {e['name']} | {'yes' if e['compiles'] else 'no'} | "
          f"{'yes' if e.get('served') else ('-' if not e['compiles'] else 'no')} | "
          f"{esc(e.get('note') or '')[:200]} |")
    w("")
    w("## Test files\n")
    w("| file | compiles | tests | passed | failed | ignored | hung/crashed | first error or failure |")
    w("|---|---|---|---|---|---|---|---|")
    for r in rows:
        w(f"| {r['file'][:-3]} | {'yes' if r['compiles'] else 'no'} | {r['tests']} | "
          f"{r['passed'] if r['compiles'] else '-'} | {r['failed'] if r['compiles'] else '-'} | "
          f"{r['ignored'] if r['compiles'] else '-'} | {r['unfinished'] if r['compiles'] else '-'} | "
          f"{esc(r['note'])[:200]} |")
    w("")
    w("## Not applicable (left out of the rates)\n")
    w("| file | reason |\n|---|---|")
    for f, why in sorted(excluded.items()):
        w(f"| {f[:-3]} | {why} |")
    w("")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=["each", "one"], default="each",
                    help="each: one test binary per file (exact per-file results); one: the "
                         "files listed in compiling.txt as modules of one binary (fast; falls "
                         "back to `each` if that binary does not compile)")
    ap.add_argument("--filter", help="only test files whose name matches this regex")
    ap.add_argument("--no-examples", action="store_true")
    ap.add_argument("--no-run", action="store_true", help="compile only")
    ap.add_argument("--report", default=os.path.join(HERE, "REPORT.md"))
    ap.add_argument("--no-history", action="store_true", help="do not append to history.json")
    ap.add_argument("--no-set-aside", action="store_true",
                    help="skip the second measure (setaside.py: rebuild the files that fail "
                         "only on Send/Sync without the tests that cause it); --mode each only")
    ap.add_argument("--timeout", type=int, default=90, help="seconds per test binary")
    ap.add_argument("--ci", action="store_true",
                    help="CI: leave REPORT.md, history.json and compiling.txt alone (report "
                         "into the scratch dir) and exit 1 if a file of compiling.txt no "
                         "longer compiles or an example that compiled no longer does")
    ap.add_argument("--reclassify", action="store_true",
                    help="re-render REPORT.md from the last run's saved diagnostics and results "
                         "(after editing gaps.py or exclusions.py), without building")
    args = ap.parse_args()
    if args.ci:
        args.no_history = True
        if args.report == os.path.join(HERE, "REPORT.md"):
            args.report = os.path.join(SCRATCH, "REPORT.md")
    state_path = os.path.join(SCRATCH, "state.json")
    if args.reclassify:
        st = json.load(open(state_path))
        return finish(args, st)

    feats = tickslab_features()
    tests_dir = locate_tokio_tests()
    all_files = sorted(f for f in os.listdir(tests_dir) if f.endswith(".rs"))
    excluded = {f: EXCLUDED[f] for f in all_files if f in EXCLUDED}
    files = [f for f in all_files if f not in EXCLUDED]
    if args.filter:
        files = [f for f in files if re.search(args.filter, f)]
    unknown = sorted(set(EXCLUDED) - set(all_files))
    if unknown:
        log("exclusions name files tokio no longer has:", ", ".join(unknown))

    refc = reference_counts(tests_dir, [f for f in all_files if f not in EXCLUDED], False)

    known_path = os.path.join(HERE if OWN_TREE else SCRATCH, "compiling.txt")
    known = []
    if os.path.exists(known_path):
        known = [l.strip() for l in open(known_path) if l.strip() and not l.startswith("#")]
    known = [f for f in known if f in files]
    together = [f for f in known if one_binary_ok(tests_dir, f)]
    alone = [f for f in known if f not in together]

    dep_feats = ", ".join(json.dumps(f) for f in feats)
    tokio_dep = f'tokio = {{ package = "tickslab", path = "{TICKSLAB}", features = [{dep_feats}] }}'
    examples = [] if args.no_examples else EXAMPLES
    make_crate(SCRATCH, "tokio-compat-harness", tokio_dep, files, tests_dir, True, together,
               TOKIO_TEST_DEP)

    timing = {}
    mode = args.mode
    results = {}
    built = {}
    if mode == "one":
        log(f"building {len(together)} known-compiling files as one binary "
            f"(+{len(alone)} alone), and the examples")
        out, secs, err = build(SCRATCH, [ONE_BINARY] + [f[:-3] for f in alone], examples)
        timing[f"one binary of {len(together)} files (+{len(alone)} alone) + examples"] = f"{secs:.0f} s"
        if not out.get(ONE_BINARY, {}).get("exe") or not all(out.get(f[:-3], {}).get("exe") for f in alone):
            log("the one-binary build failed (a known-compiling file regressed): falling back to `each`")
            mode = "each"
        else:
            built = {f[:-3]: {"errors": [], "exe": None} for f in files}
            for e in examples:
                built[e] = out.get(e, {"errors": [], "exe": None})
            exe = out[ONE_BINARY]["exe"]
            for f in together:
                built[f[:-3]]["exe"] = exe
            for f in alone:
                built[f[:-3]] = out[f[:-3]]
            if not args.no_run:
                # One process per file (a filter on its module): a test that aborts the
                # process or raises a signal takes only its own file down, as in `each`.
                for f in together:
                    t = f[:-3]
                    log(f"running {t} (one binary, filter {t}::)")
                    results[t] = (*run_tests(exe, SCRATCH, args.timeout, 15, 40, t + "::"), t + "::")
                for f in alone:
                    results[f[:-3]] = run_tests(out[f[:-3]]["exe"], SCRATCH, args.timeout, 15, 40)
            for f in files:
                if f not in known:
                    built[f[:-3]]["errors"] = [{"message": "not in compiling.txt (run --mode each)",
                                                "spans": []}]
    if mode == "each":
        log(f"building {len(files)} test files, one binary each, and {len(examples)} examples")
        out, secs, err = build(SCRATCH, [f[:-3] for f in files], examples)
        timing[f"{len(files)} test binaries + examples"] = f"{secs:.0f} s"
        built = out
        if not args.no_run:
            for f in files:
                t = f[:-3]
                exe = out.get(t, {}).get("exe")
                if exe:
                    log(f"running {t}")
                    results[t] = run_tests(exe, SCRATCH, args.timeout, 15, 40)
        if not args.filter and not args.ci:
            comp = sorted(f for f in files if out.get(f[:-3], {}).get("exe"))
            write(known_path, "# tokio test files that compiled against tickslab at the last "
                              "`--mode each` run (harness.py writes it; --mode one builds these)\n"
                  + "".join(c + "\n" for c in comp))

    sa = None
    if mode == "each" and not args.no_set_aside and "__deps__" not in built:
        ref_names = reference_data().get("names", {})

        def declare(extra):
            make_crate(SCRATCH, "tokio-compat-harness", tokio_dep, files, tests_dir, True,
                       together, TOKIO_TEST_DEP, extra)

        failing = [f for f in files if not built.get(f[:-3], {}).get("exe")]
        sa_files, secs = setaside.measure(
            failing, built, tests_dir, SCRATCH, declare,
            lambda names: build(SCRATCH, names, [])[:2],
            lambda exe: run_tests(exe, SCRATCH, args.timeout, 15, 40),
            ref_names.get, no_run=args.no_run, log=log)
        sa = {"files": sa_files}
        if sa_files:
            timing[f"set aside: {sum(1 for r in sa_files.values() if 'rounds' in r)} pruned "
                   "copies"] = f"{secs:.0f} s"

    drives = {}
    for e in examples:
        exe = built.get(e, {}).get("exe")
        if exe and not args.no_run:
            log(f"driving example {e}")
            drives[e] = drive.drive(e, exe)
    st = {"files": files, "excluded": excluded, "refc": refc, "built": built,
          "results": results, "examples": examples, "drives": drives, "timing": timing,
          "mode": mode, "features": feats, "tests_dir": tests_dir,
          "tokio_test_renamed": TOKIO_TEST_RENAMED, "setaside": sa}
    json.dump(st, open(state_path, "w"))
    return finish(args, st)


def finish(args, st):
    files, excluded, refc, built = st["files"], st["excluded"], st["refc"], st["built"]
    results, examples, drives, timing, mode = (st["results"], st["examples"], st["drives"],
                                               st["timing"], st["mode"])
    feats, tests_dir = st["features"], st["tests_dir"]
    renamed = st.get("tokio_test_renamed", False)
    gaps.TOKIO_TEST_RENAMED = renamed
    excluded = {f: EXCLUDED.get(f, why) for f, why in excluded.items()}
    gaps.set_public_types(TICKSLAB)
    rows = summarize(files, refc, built, results)
    sa = st.get("setaside")
    if sa is not None:
        sa = dict(sa, rows=setaside.summary_rows(sa["files"], refc, summarize))

    ex_rows = []
    for e in examples:
        b = built.get(e, {"errors": [], "exe": None})
        row = {"name": e, "compiles": bool(b["exe"]), "note": "", "keys": []}
        if b["errors"]:
            row["note"] = gaps.one_line(b["errors"][0])
            for d in b["errors"]:
                for k in gaps.keys_of(d):
                    if k not in row["keys"]:
                        row["keys"].append(k)
        if e in drives:
            row["served"], row["note"] = drives[e]
        ex_rows.append(row)

    meta = {"commit": git("rev-parse", "--short", "HEAD"),
            "main": git("rev-parse", "--short", "HEAD") if not git("rev-parse", "--verify", "-q", "main")
            else git("rev-parse", "--short", git("merge-base", "HEAD", "main")), "subject": git("log", "-1", "--format=%s"),
            "tests_dir": tests_dir.replace(os.path.expanduser("~"), "~"),
            "features": feats, "tokio_test_renamed": renamed,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    R = rates(rows)
    SA = setaside.rates(R, rows, sa["files"], sa["rows"]) if sa is not None else None
    hist_path = os.path.join(HERE, "history.json")
    history = json.load(open(hist_path)) if os.path.exists(hist_path) else []
    if not args.filter and not args.no_run and not args.no_history and not args.reclassify and OWN_TREE:
        entry = {"commit": meta["commit"], "main": meta["main"], "subject": meta["subject"], "mode": mode, **R,
                 "ex_compile": sum(e["compiles"] for e in ex_rows),
                 "ex_serve": sum(1 for e in ex_rows if e.get("served")), "date": meta["date"]}
        if SA is not None:
            entry.update({"sa_passing": SA["passing"], "sa_tests": SA["tests"],
                          "set_aside": SA["set_aside"], "by_design": SA["by_design"]})
        history = [h for h in history if h["commit"] != meta["commit"]] + [entry]
        json.dump(history, open(hist_path, "w"), indent=1)
    write(args.report, render(meta, rows, excluded, ex_rows, history, timing, sa, refc, mode))
    json.dump({"meta": meta, "rates": R, "setaside": SA, "rows": rows, "examples": ex_rows},
              open(os.path.join(SCRATCH, "results.json"), "w"), indent=1)

    print(f"tokio-compat @ {meta['commit']}: files compiling {R['compiling']}/{R['files']} "
          f"({pct(R['compiling'], R['files'])}), files all-pass {R['clean']}/{R['files']}, "
          f"tests passing {R['passing']}/{R['tests']} ({pct(R['passing'], R['tests'])}), "
          f"examples compile {sum(e['compiles'] for e in ex_rows)}/{len(ex_rows)}, "
          f"serve {sum(1 for e in ex_rows if e.get('served'))}/{len(ex_rows)}")
    if SA is not None:
        print(f"  set aside by design: {SA['set_aside']} tests (!Send), {SA['by_design']} failing "
              f"as multi-thread; tests passing of the rest {SA['passing']}/{SA['tests']} "
              f"({pct(SA['passing'], SA['tests'])})")
    for k, v in timing.items():
        print(f"  build time, {k}: {v}")
    print(f"  report: {args.report}")
    if args.ci:
        known_path = os.path.join(HERE if OWN_TREE else SCRATCH, "compiling.txt")
        known = [l.strip() for l in open(known_path) if l.strip() and not l.startswith("#")] \
            if os.path.exists(known_path) else []
        lost = [f for f in known if f in files and not built.get(f[:-3], {}).get("exe")]
        if lost:
            print("REGRESSION: these tokio test files compiled before and no longer do: "
                  + ", ".join(lost))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

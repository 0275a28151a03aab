"""The second measure, "set aside by design": the tests of a file that does not compile only
because some of its tests move a tickslab value to another thread.

tickslab's runtime, sockets, timers and join handles are `!Send` by design (one thread, no
atomics), so a tokio test that hands one to `std::thread::spawn`, or puts one in a waker that
must be `Send + Sync`, is a compile error, which issue 11 allows. rustc refuses the whole file
for it, so the headline counts every test of that file as not passing, which hides how its
other tests fare. This measure, beside the headline and never in it:

1. takes each applicable file that did not compile and whose every error is a Send/Sync one
   (`gaps.keys_of` says `not Send` / `not Sync`); a file with any other error (a missing item)
   is not touched and stays not compiling here too;
2. maps each error's primary span (rustc's JSON, byte offsets; through macro expansions to the
   file) to the outermost `fn` or `impl` around it (`rustsrc.items`). A test fn is set aside
   whole; when it sits in a macro body expanded into several modules (`rt_test! { .. }` in
   rt_common.rs) it leaves every module, and each module's copy counts as one test, as tokio's
   reference listing counts them. A helper (a non-test fn, or an `impl` such as `impl ArcWake
   for RegistrationWaker`) is set aside with every test that names it;
3. writes a copy of the file into the scratch crate (`tests/setaside_<file>.rs`, a copy, not a
   link: tokio's file stays as published) with those items blanked (newlines kept, so lines and
   byte offsets still name the original's), rebuilds, and repeats at most `MAX_ROUNDS` times
   while new Send/Sync errors show (rustc can report some only once others are gone);
4. runs what compiles and lists, per file, the tests set aside with the reason (the type and
   the line that moves it) and how the others fare.

Which tests were set aside is known by name: tokio's reference listing of the file (the real
tokio, same features; `reference-counts.json`) minus the copy's listing, each matched to a
set-aside function by its last path segment.
"""

import os
import re

import gaps
import rustsrc

PREFIX = "setaside_"
MAX_ROUNDS = 4
# The panic text tickslab gives when a test asks for a multi-thread runtime (a Builder, the
# `flavor = "multi_thread"` of `#[tokio::test]`, `block_in_place`): refused by design.
BY_DESIGN = "tickslab runs on one thread"


def by_design(msg):
    """Whether a run-time failure is tickslab refusing a multi-thread runtime by design."""
    return BY_DESIGN in msg


def is_send_sync(diag):
    keys = gaps.keys_of(diag)
    return bool(keys) and all(re.match(r"not (Send|Sync)\b", k) for k in keys)


def _span_in(diag, file_name):
    """The first primary span of `diag` in `file_name`, following macro expansions outward
    (an error inside `assert_ok!` points into tokio-test, its expansion to the test file)."""
    for span in diag.get("spans", []):
        if not span.get("is_primary"):
            continue
        s = span
        while s:
            if s.get("file_name") == file_name:
                return s
            s = (s.get("expansion") or {}).get("span")
    return None


def _why(diag, span):
    """What a Send/Sync error says, kept raw (rendered by `reason`, once gaps knows
    tickslab's public types): the trait, rustc's chain of types from the field that lacks it
    out to what the test holds, the bound that asks for it, and the line."""
    msg = diag.get("message", "").splitlines()[0]
    kids = " ".join(c.get("message", "") for c in diag.get("children", []))
    chain = re.findall(r"(?:not implemented for|appears within the type|within) `([^`]+)`", kids)
    bound = re.search(r"required by a bound in `([^`]+)`", kids) or \
        re.search(r"required for `[^`]+` to implement `([^`]+)`", kids)
    return {"trait": "Sync" if "be shared" in msg else "Send",
            "chain": [t for t in chain if not t.startswith("{")],
            "bound": bound.group(1) if bound else "",
            "text": (span.get("text") or [{}])[0].get("text", "").strip(),
            "line": span["line_start"]}


def _user_type(chain):
    """The outermost tickslab type on rustc's chain: the one the test holds (`Runtime`
    rather than the `Rc<Timers>` inside it)."""
    for t in reversed(chain):
        if gaps._strip_generics(t).split("::")[-1].strip() in gaps.PUBLIC_TYPES:
            return gaps._tidy(t)
    for t in chain:  # `Rc<tickslab::io::reactor::Reactor>`: the tickslab type inside
        inner = re.findall(r"tickslab(?:_runtime)?((?:::\w+)+)", t)
        if inner:
            return gaps._tidy("tickslab" + inner[-1])
    return gaps._tidy(chain[0]) if chain else "?"


def reason(unit):
    """One line per source line of a set-aside item: which types lack Send or Sync and
    which bound asks for it."""
    by_line = {}
    for e in unit.get("errors", []):
        line = by_line.setdefault(e["line"], {"text": e["text"], "types": {}, "bounds": []})
        ty = _user_type(e["chain"])
        line["types"].setdefault(ty, set()).add(e["trait"])
        if e["bound"] and e["bound"] not in line["bounds"]:
            line["bounds"].append(e["bound"])
    parts = []
    for n, line in sorted(by_line.items()):
        types = ", ".join(f"`{t}` not {'/'.join(sorted(tr))}" for t, tr in line["types"].items())
        bound = f" (asked by `{line['bounds'][0]}`)" if line["bounds"] else ""
        parts.append(f"{types}{bound}, line {n}: `{line['text'][:90]}`")
    return "; ".join(parts) or f"uses `{unit['via']}`, set aside"


class Plan:
    """What is set aside in one file: items by range, each with its reasons."""

    def __init__(self, src):
        self.src = src
        self.items = rustsrc.items(src)
        self.units = {}  # (start, end) -> {"name", "kind", "line", "test", "reasons", "via"}

    def outermost(self, offset):
        around = [i for i in self.items if i.contains(offset)]
        return min(around, key=lambda i: i.start) if around else None

    def add(self, item, why, via=None):
        key = (item.start, item.end)
        u = self.units.setdefault(key, {"name": item.name, "kind": item.kind, "line": item.line,
                                        "test": item.is_test, "errors": [], "via": via})
        if why and why not in u["errors"]:
            u["errors"].append(why)
        return u

    def take(self, diags, file_name):
        """Set aside what holds each diagnostic; returns the diagnostics it could not place
        (no span in the file, or outside every fn and impl)."""
        left, helpers = [], []
        for d in diags:
            span = _span_in(d, file_name)
            item = span and self.outermost(span["byte_start"])
            if not item:
                left.append(d)
                continue
            fresh = (item.start, item.end) not in self.units
            self.add(item, _why(d, span))
            if not item.is_test and fresh:
                helpers.append(item)
        # A helper's users go with it, transitively (a helper that uses a helper, ...).
        while helpers:
            h = helpers.pop()
            for it in self.items:
                if (it.start, it.end) in self.units or self.outermost(it.start) is not it \
                        or (it.kind == "impl" and it.name == h.name):
                    continue  # set aside already, nested, or another impl of the same type
                if h.name in rustsrc.idents(self.src, it.start, it.end):
                    self.add(it, None, via=h.name)
                    if not it.is_test:
                        helpers.append(it)
        return left

    def text(self):
        names = ", ".join(sorted({u["name"] for u in self.units.values()}))
        return (rustsrc.blank(self.src, list(self.units)) +
                f"\n// tokio-compat/setaside.py: set aside (`!Send` by design): {names}\n".encode())


def measure(files, built, tests_dir, scratch, declare, build, run, ref_names, no_run=False,
            log=print):
    """The set-aside measure over `files` (those of `built` without an executable).

    `declare(names)` adds `[[test]]` targets `tests/<name>.rs` to the scratch crate,
    `build(names)` compiles them as harness.build does, `run(exe)` runs one test binary as
    harness.run_tests does; `ref_names(file)` is tokio's listing of the file (None if unknown).
    Returns ({file: result}, build seconds)."""
    out, plans, secs = {}, {}, 0.0
    for f in files:
        b = built.get(f[:-3]) or {}
        if b.get("exe") or not b.get("errors"):
            continue
        other = [d for d in b["errors"] if not is_send_sync(d)]
        if other:
            out[f] = {"status": "other", "keys": _keys(other), "units": []}
            continue
        plan = Plan(open(os.path.join(tests_dir, f), "rb").read())
        left = plan.take(b["errors"], "tests/" + f)
        if left:
            out[f] = {"status": "unplaced", "keys": _keys(left), "units": _units(plan)}
            continue
        plans[f] = plan
    pending = dict(plans)
    for rnd in range(1, MAX_ROUNDS + 1):
        if not pending:
            break
        names = [PREFIX + f[:-3] for f in pending]
        for f, plan in pending.items():
            _write_bytes(os.path.join(scratch, "tests", PREFIX + f), plan.text())
        declare(names)
        log(f"set aside, round {rnd}: building {len(names)} pruned copies")
        res, s = build(names)
        secs += s
        nxt = {}
        for f, plan in pending.items():
            r = res.get(PREFIX + f[:-3]) or {"errors": [], "exe": None}
            if r.get("exe"):
                out[f] = {"status": "compiles", "exe": r["exe"], "rounds": rnd}
                continue
            errs = r.get("errors") or []
            other = [d for d in errs if not is_send_sync(d)]
            if not errs or other:
                out[f] = {"status": "other", "keys": _keys(other) or ["(no diagnostic)"],
                          "after": True, "units": _units(plan), "rounds": rnd}
                continue
            before = len(plan.units)
            left = plan.take(errs, "tests/" + PREFIX + f)
            if left or len(plan.units) == before:
                out[f] = {"status": "unplaced", "keys": _keys(left or errs), "units": _units(plan),
                          "rounds": rnd}
                continue
            nxt[f] = plan
        pending = nxt
    for f, plan in pending.items():
        out[f] = {"status": "rounds", "keys": [], "units": _units(plan), "rounds": MAX_ROUNDS}
    for f, r in out.items():
        if r["status"] != "compiles":
            continue
        plan = plans[f]
        r["units"] = _units(plan)
        exe = r.pop("exe")
        if no_run:
            continue
        log(f"running {PREFIX}{f[:-3]}")
        names, status, output = run(exe)
        r["results"] = {"names": names, "status": status, "output": output}
        ref = ref_names(f)
        if ref is not None:
            gone = [n for n in ref if n not in set(names)]
            by_fn = {u["name"]: u for u in r["units"] if u["test"]}
            for n in gone:
                u = by_fn.get(n.split("::")[-1])
                if u is not None:
                    u.setdefault("tests", []).append(n)
            r["unmatched"] = [n for n in gone if n.split("::")[-1] not in by_fn]
    return out, secs


def _write_bytes(path, data):
    if os.path.exists(path) and open(path, "rb").read() == data:
        return
    with open(path, "wb") as fh:
        fh.write(data)


def _keys(diags):
    keys = []
    for d in diags:
        for k in gaps.keys_of(d):
            if k not in keys:
                keys.append(k)
    return keys


def _units(plan):
    return sorted((dict(u) for u in plan.units.values()), key=lambda u: u["line"])


# ---------------------------------------------------------------- report


def summary_rows(sa, refc, summarize):
    """harness.summarize's rows for the pruned copies that compiled and ran, keyed by the
    original file; each row's `tests` is tokio's count less the tests set aside."""
    out = {}
    for f, r in sorted(sa.items()):
        if r["status"] != "compiles" or "results" not in r:
            continue
        t = PREFIX + f[:-3]
        gone = sum(len(u.get("tests", [])) for u in r["units"])
        res = r["results"]
        row = summarize([t + ".rs"], {t + ".rs": max(refc.get(f, 0) - gone, 0)},
                        {t: {"errors": [], "exe": "(pruned copy)"}},
                        {t: (res["names"], res["status"], res["output"])})[0]
        row["file"], row["set_aside"] = f, gone
        out[f] = row
    return out


def rates(R, rows, sa, sa_rows):
    """The second rates line: passing (the headline's plus the pruned copies') over the tests
    of applicable files less those set aside and those failing as multi-thread by design."""
    set_aside = sum(len(u.get("tests", [])) for f, r in sa.items() if f in sa_rows
                    for u in r["units"])
    design = sum(1 for r in list(rows) + list(sa_rows.values())
                 for m in (r.get("failures") or {}).values() if by_design(m))
    passing = R["passing"] + sum(min(r["passed"], r["tests"]) for r in sa_rows.values())
    return {"set_aside": set_aside, "by_design": design, "passing": passing,
            "tests": R["tests"] - set_aside - design}


def render(w, esc, pct, R, rows, sa, measured_by):
    """The REPORT.md section. `sa` is None when the run did not measure it (`--mode one`)."""
    w("## Set aside by design: tests that move a `!Send` tickslab value to another thread\n")
    if sa is None:
        w(f"Not measured by this run ({measured_by}); a full run (`--mode each`) measures it.\n")
        return None
    rows_sa = sa["rows"]
    SA = rates(R, rows, sa["files"], rows_sa)
    w("A second measure beside the rates above, which stay as they are (by the rename alone, "
      "unmodified files). tickslab's runtime, sockets, timers and join handles are `!Send` by "
      "design, so a test that hands one to `std::thread::spawn` (or to a waker that must be "
      "`Send + Sync`) is a compile error, and rustc then refuses its whole file. Here each "
      "applicable file that does not compile and whose every error is `not Send` / `not Sync` "
      "is copied into the scratch crate with the test functions holding those errors removed "
      "(in a macro body such as `rt_test! { .. }`, from every module it expands into; a helper "
      "`fn` or `impl` with such an error goes with the tests that use it), rebuilt, and run. "
      "A file with any other compile error is left as it is and stays not compiling. "
      "See `tokio-compat/README.md`.\n")
    w("| measure | count | rate |\n|---|---|---|")
    w(f"| tests passing / tests in applicable files, less {SA['set_aside']} set aside as `!Send` "
      f"by design and {SA['by_design']} failing as multi-thread by design | {SA['passing']} / "
      f"{SA['tests']} | {pct(SA['passing'], SA['tests'])} |")
    w("")
    w("| file | tests (tokio's) | set aside | compiles pruned | passed | failed (of them by design) "
      "| ignored | hung/crashed |\n|---|---|---|---|---|---|---|---|")
    for f, r in sorted(sa["files"].items()):
        row = rows_sa.get(f)
        if row:
            d = sum(1 for m in (row.get("failures") or {}).values() if by_design(m))
            w(f"| {f[:-3]} | {R['refc'].get(f, 0)} | {row['set_aside']} | yes | {row['passed']} | "
              f"{row['failed']} ({d}) | {row['ignored']} | "
              f"{row['unfinished']} |")
        else:
            why = {"other": "no: an error that is not Send/Sync" + (" (after setting aside)"
                                                                     if r.get("after") else ""),
                   "unplaced": "no: a Send/Sync error outside any fn or impl",
                   "rounds": f"no: still new Send/Sync errors after {MAX_ROUNDS} rounds",
                   "compiles": "compiled, not run"}[r["status"]]
            w(f"| {f[:-3]} | {R['refc'].get(f, 0)} | - | {why} | - | - | - | - |")
    w("")
    w("### Tests set aside, with the reason (type, and the line that moves it)\n")
    for f, r in sorted(sa["files"].items()):
        if f not in rows_sa:
            continue
        for u in r["units"]:
            tests = u.get("tests", [])
            what = (f"`{u['name']}` ({len(tests)} test{'s' if len(tests) != 1 else ''}"
                    + (": " + ", ".join(f"`{t}`" for t in tests) if len(tests) > 1 else "") + ")"
                    if u["test"] else f"helper `{u['kind']} {u['name']}`")
            w(f"- `{f[:-3]}` {what}, line {u['line']}: {esc(reason(u))}")
        if r.get("unmatched"):
            w(f"- `{f[:-3]}`: also missing from the copy's listing (to read by hand): "
              + ", ".join(f"`{n}`" for n in r["unmatched"]))
    still = [(f, r) for f, r in sorted(sa["files"].items()) if f not in rows_sa]
    if still:
        w("\n### Files that stay not compiling in this measure\n")
        for f, r in still:
            w(f"- `{f[:-3]}`: " + esc("; ".join(r["keys"][:6]))
              + (f" (+{len(r['keys']) - 6} more)" if len(r["keys"]) > 6 else ""))
    w("\n### Run-time failures in the pruned copies\n")
    w("Each failure's panic (first line and where; and the last panic's when the test "
      "panicked more than once), as in the list above; the multi-thread runtimes refused by "
      "design are grouped by module.\n")
    any_f = False
    for f, row in sorted(rows_sa.items()):
        groups = {}
        for n, msg in (row.get("failures") or {}).items():
            any_f = True
            if by_design(msg):
                first = msg.split("; last panic: ")[0]  # the refusal; what followed varies
                groups.setdefault((n.rsplit("::", 1)[0] if "::" in n else "", first), []).append(n)
            else:
                w(f"- `{f[:-3]}::{n}`: {esc(msg)}")
        for (mod, msg), ns in sorted(groups.items()):
            where = f"{f[:-3]}::{mod}::*" if mod else f"{f[:-3]}::" + ", ".join(ns)
            w(f"- `{where}` ({len(ns)} test{'s' if len(ns) != 1 else ''}): **by design** (multi-thread refused at run time): "
              f"{esc(msg)}")
    if not any_f:
        w("None.")
    w("")
    return SA

"""Turn rustc's JSON diagnostics into gap keys: what tickslab lacks, named by tokio's path.

One key per distinct missing item or mismatch, so that the report can count how many test
files each gap blocks. rustc stops before type checking when names do not resolve, so the
keys of a file are its first layer of gaps: a file blocked only by `tokio::sync::Notify` may
show method-level gaps once `Notify` exists.
"""

import re

# Modules tokio exposes at its root: a bare `sync` in "could not find `X` in `sync`" means
# `tokio::sync`.
TOKIO_MODULES = {
    "fs", "io", "net", "process", "runtime", "signal", "stream", "sync", "task", "time",
}
NESTED = {
    "mpsc": "tokio::sync::mpsc", "oneshot": "tokio::sync::oneshot",
    "broadcast": "tokio::sync::broadcast", "watch": "tokio::sync::watch",
    "unix": "tokio::net::unix", "tcp": "tokio::net::tcp", "udp": "tokio::net::udp",
}


MACROS = {"select", "join", "try_join", "pin", "task_local"}

# Whether the run renamed tokio-test to tickslab-test (set by harness.py from the run's
# state): then `tokio_test::io::Mock` is tickslab's, not a dev-dependency gap.
TOKIO_TEST_RENAMED = False

# Which part of tokio's API a gap belongs to, for routing (first match wins).
AREAS = [
    ("dev-dependency on the real tokio", r"dev-dependency|Framed"),
    ("Send/Sync/UnwindSafe/Unpin (tokio's types are; tickslab's same-thread ones are not)",
     r"^not (Send|Sync|UnwindSafe|Unpin)"),
    ("macros", r"#\[tokio::|!`|follows from a missing macro|multi_thread"),
    ("runtime and task", r"where tokio returns `io::Result<Runtime>"),
    ("sync", r"tokio::sync|\bsync::|Semaphore|Notify|Mutex|RwLock|Barrier|mpsc|oneshot|watch|broadcast"),
    ("fs and blocking", r"tokio::fs|spawn_blocking|block_in_place|AsyncSeek|SeekFrom|blocking"),
    ("signal", r"signal"),
    ("net", r"tokio::net|\bnet::|Unix|Tcp|Udp|Interest|linger|quickack"),
    ("io", r"tokio::io|ReadBuf|AsyncRead|AsyncWrite|AsyncBuf|\[u8\]|Cursor|read_|write_|Rd::|Wr::|BadAsyncRead|UninitTest"),
    ("time", r"tokio::time|Interval|Sleep|Instant|Duration"),
    ("runtime and task", r"tokio::runtime|tokio::task|JoinHandle|JoinSet|LocalSet|task_local|AbortHandle"),
]


def area_of(key):
    for name, pat in AREAS:
        if re.search(pat, key):
            return name
    return "other (compile errors that follow from others, or to read by hand)"


def _strip_generics(ty):
    out, depth = [], 0
    for ch in ty:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out).replace("&mut ", "").replace("&", "").strip()


def _tidy(ty, generics=False):
    """`tickslab_runtime::net::tcp::TcpStream<T>` -> `net::tcp::TcpStream`."""
    if not generics:
        ty = _strip_generics(ty)
    ty = re.sub(r"\b(?:tickslab_runtime|tickslab|rt::core|std::ptr)::", "", ty)
    ty = re.sub(r"\b(?:[a-z_]+::)+(?=[A-Z])", lambda m: m.group(0) if generics is False else "", ty)
    return ty


def _span_text(diag):
    for span in diag.get("spans", []):
        if span.get("is_primary"):
            lines = span.get("text") or []
            if lines:
                line = lines[0]
                s, e = line["highlight_start"] - 1, line["highlight_end"] - 1
                return line["text"], line["text"][s:e]
    return "", ""


def _children(diag):
    return [c.get("message", "") for c in diag.get("children", [])]


def _tokio_path_to(line, name):
    """The `tokio::a::b` path under which `name` is written in a source line, if any."""
    m = re.search(r"\b(tokio\d?(?:::\w+)*)::" + re.escape(name) + r"\b", line)
    if m:
        return re.sub(r"^tokio\d?", "tokio", m.group(1))
    m = re.search(r"\b(tokio\d?(?:::\w+)*)::\{[^}]*\b" + re.escape(name) + r"\b", line)
    if m:
        return re.sub(r"^tokio\d?", "tokio", m.group(1))
    return None


def _qualify(parent):
    parent = re.sub(r"^tokio\d?", "tokio", parent)
    if parent == "tokio" or parent.startswith("tokio::"):
        return parent
    if parent in TOKIO_MODULES:
        return f"tokio::{parent}"
    return NESTED.get(parent, parent)


PUBLIC_TYPES = set()


def set_public_types(root):
    """Names of tickslab's public structs and enums (to name the type a user holds)."""
    import os
    for dirpath, _, names in os.walk(root):
        if "/target" in dirpath or "/tokio-compat" in dirpath or "/.git" in dirpath:
            continue
        for n in names:
            if n.endswith(".rs"):
                try:
                    text = open(os.path.join(dirpath, n), errors="replace").read()
                except OSError:
                    continue
                PUBLIC_TYPES.update(re.findall(r"\bpub (?:struct|enum) (\w+)", text))


def _holder(diag):
    """The tickslab type a user holds that a Send/Sync/UnwindSafe failure comes from: the
    first public tickslab type on rustc's "required because it appears within" chain,
    innermost first."""
    chain = []
    for c in _children(diag):
        for m in re.finditer(r"(?:within|within the type|required for|not implemented for) `([^`]+)`", c):
            chain.append(m.group(1))
    for t in chain:
        name = _strip_generics(t).split("::")[-1].strip()
        if name in PUBLIC_TYPES:
            return _tidy(t)
    inner = [re.findall(r"tickslab(?:_runtime)?((?:::\w+)+)", t) for t in chain]
    inner = [i[0] for i in inner if i]
    if inner:
        return _tidy("tickslab" + inner[-1])
    return _tidy(chain[-1]) if chain else "?"


def keys_of(diag):
    """Gap keys for one rustc error diagnostic (a dict of rustc's JSON)."""
    msg = diag.get("message", "").splitlines()[0] if diag.get("message") else ""
    code = (diag.get("code") or {}).get("code", "") if diag.get("code") else ""
    line, hl = _span_text(diag)
    kids = " ".join(_children(diag))
    everything = msg + " " + line + " " + kids

    # Dev-dependencies built on the real tokio. With tokio-test renamed to tickslab-test
    # (harness.py), Mock and block_on are tickslab's: their errors are ordinary gaps.
    if not TOKIO_TEST_RENAMED and re.search(r"\bMock\b|tokio_test::io|tokio_test::block_on", everything):
        return ["dev-dependency: `tokio_test::io::Mock` / `tokio_test::block_on` speak the real tokio (AsyncRead/AsyncWrite/runtime)"]
    if "tokio_stream::wrappers" in everything:
        return ["dev-dependency: `tokio_stream::wrappers` wrap the real tokio's types"]
    if re.search(r"\bFramed<", everything) and code == "E0599":
        return ["tokio-util `Framed` over tickslab's `TcpStream`: needs real tokio's AsyncRead/AsyncWrite (feature `tokio-io`)"]

    m = re.match(r"unresolved imports? (.*)", msg)
    if m:
        keys = []
        for path in re.findall(r"`([^`]+)`", m.group(1)):
            path = re.sub(r"^tokio\d?::", "tokio::", path)
            last = path.split("::")[-1]
            if path in ("tokio::test", "tokio::main"):
                path = f"#[{path}]"
            elif last in MACROS and path.count("::") == 1:
                path += "!"
            keys.append(f"missing: `{path}`")
        return keys

    m = (re.match(r"(?:failed to resolve: )?(?:could not|cannot) find `(\w+)` in `([\w:]+)`", msg)
         or re.match(r"cannot find (?:\w+ )+`(\w+)` in (?:module|crate) `([\w:]+)`", msg))
    if m:
        name, parent = m.group(1), m.group(2)
        path = _tokio_path_to(line, name) or _qualify(parent)
        stripped = line.lstrip()
        if stripped.startswith("#[") and (name in ("test", "main") or "macro" in msg):
            return [f"missing: `#[{path}::{name}]`"]
        if re.search(re.escape(name) + r"\s*!", line) or "macro" in msg:
            return [f"missing: `{path}::{name}!`"]
        return [f"missing: `{path}::{name}`"]

    m = re.match(r"cannot find (\w+(?: \w+)*) `(\w+)` in this scope", msg)
    if m:
        if m.group(2).isupper() or re.match(r"[A-Z][A-Z_0-9]+$", m.group(2)):
            return [f"follows from a missing macro (`task_local!` etc.): `{m.group(2)}` undefined"]
        return [f"undefined in scope: {m.group(1)} `{m.group(2)}`"]

    m = re.match(r"(?:failed to resolve: )?use of (?:undeclared|unresolved) (?:crate or module|type|module or unlinked crate) `(\w+)`", msg)
    if m:
        return [f"undeclared `{m.group(1)}`"]

    m = re.match(r"no method named `(unwrap|expect|unwrap_err|is_ok|is_err|\?)` found for (?:\w+ )*`(.+?)`", msg)
    if m and m.group(1) in ("unwrap", "expect"):
        t = _tidy(m.group(2))
        return [f"returns `{t}` where tokio returns `io::Result<{t.split('::')[-1]}>` (tokio code calls `.{m.group(1)}()` on it)"]

    m = re.match(r"no (method|function or associated item|associated item|field) named `(\w+)` found for (?:\w+ )*`(.+?)`(?: in the current scope)?$", msg)
    if m:
        ty = m.group(3)
        sp = re.match(r"(?:tokio|tickslab)_test::task::Spawn<(.+)>$", ty)
        if sp:
            ty = sp.group(1)
        kind = {"function or associated item": "fn", "associated item": "item"}.get(m.group(1), m.group(1))
        return [f"missing {kind}: `{_tidy(ty)}::{m.group(2)}`"]

    m = re.match(r"the method `(\w+)` exists for (?:\w+ )*`(.+?)`, but its trait bounds were not satisfied", msg)
    if m:
        b = re.search(r"`([^`]+: [^`]+)`", kids)
        bound = _tidy(b.group(1)) if b else "?"
        return [f"trait bound not met: `{bound}` (for `.{m.group(1)}()`)"]

    m = re.match(r"no field `(\w+)` on type `(.+)`", msg)
    if m:
        return [f"missing field: `{_tidy(m.group(2))}::{m.group(1)}`"]

    m = re.match(r"`(.+)` cannot be (sent|shared) between threads safely", msg)
    if m:
        what = "Send" if m.group(2) == "sent" else "Sync"
        return [f"not {what} (tokio's is): `{_holder(diag)}`"]

    if "may contain interior mutability and a reference may not be safely transferable across a catch_unwind" in msg \
            or re.match(r"the type `.+` may not be safely transferred across an unwind boundary", msg):
        t = re.search(r"is_(?:ref_)?unwind_safe::<(.+?)>\(\)", line)
        return [f"not UnwindSafe/RefUnwindSafe (tokio's is): `{_strip_generics(t.group(1)) if t else _holder(diag)}`"]

    m = re.match(r"`(.+)` cannot be unpinned", msg)
    if m:
        return [f"not Unpin (tokio's is): `{_tidy(m.group(1))}`"]

    m = re.match(r"the trait bound `(.+?): (.+?)` is not satisfied", msg)
    if m:
        return [f"trait not implemented: `{_tidy(m.group(1))}: {_strip_generics(m.group(2))}`"]

    m = re.match(r"the trait `(.+?)` is not implemented for `(.+?)`", msg)
    if m:
        return [f"trait not implemented: `{_tidy(m.group(2))}: {_strip_generics(m.group(1))}`"]

    m = re.match(r"`(.+?)` is not a future", msg)
    if m:
        return [f"not a future: `{_tidy(m.group(1))}`"]

    if code == "E0782":
        t = re.search(r"\b(\w+)::(\w+)\s*\(", line)
        if t:
            return [f"missing trait method: `{t.group(1)}::{t.group(2)}`"]

    m = re.match(r"(?:this|the) (?:method|function|associated function|enum variant|struct) takes (\d+) arguments? but (\d+) arguments? (?:was|were) supplied", msg)
    if m:
        f = re.findall(r"(\w+)\s*\(", hl or line)
        return [f"arity differs: `{f[0] if f else line.strip()[:50]}` takes {m.group(1)} argument(s), tokio's {m.group(2)}"]

    m = re.match(r"expected (function|struct|enum|trait|type), found (\w+(?: \w+)*) `(.+?)`", msg)
    if m:
        return [f"kind differs: `{m.group(3)}` is a {m.group(2)}, tokio's is a {m.group(1)}"]

    if code == "E0308":
        exp = re.search(r"expected (?:[\w ]+ )?`([^`]+)`\s*found (?:[\w ]+ )?`([^`]+)`", kids)
        calls = re.findall(r"\.(\w+)\s*\(", line) or re.findall(r"(\w+)\s*\(", line)
        at = calls[0] if calls else (hl or line.strip())[:40]
        if exp:
            return [f"type differs at `{at}`: tickslab expects `{_tidy(exp.group(1), True)}`, tokio code passes `{_tidy(exp.group(2), True)}`"]
        return [f"type mismatch at `{at}`"]

    if code == "E0603":
        m = re.match(r"(\w+) `(\w+)` is private", msg)
        if m:
            path = _tokio_path_to(line, m.group(2)) or "?"
            return [f"private, not re-exported: `{path}::{m.group(2)}`"]

    if code == "E0752":
        return ["missing: `#[tokio::main]`"]

    if msg.startswith("future cannot be sent between threads safely"):
        return [f"not Send (tokio's is): `{_holder(diag)}` (held in a future that must be Send)"]

    if "multi_thread" in msg and "tickslab runs on one thread" in msg:
        return ["`flavor = \"multi_thread\"` refused at compile time: the whole file fails to compile"]

    if not code:
        # Errors from proc-macros (ours or the tests' `compile_error!`) carry their own text.
        return [f"error: {msg[:160]}"]

    norm = re.sub(r"`[^`]*`", "`_`", msg)
    return [f"{code}: {norm[:140]}"]


def one_line(diag):
    """The first line of a diagnostic, with its location."""
    msg = diag.get("message", "").splitlines()[0]
    for span in diag.get("spans", []):
        if span.get("is_primary"):
            return f"{span['file_name'].split('/')[-1]}:{span['line_start']}: {msg}"
    return msg

"""Where the functions and impl blocks of a Rust source file start and end, without rustc.

Enough of Rust's lexical grammar to find items by byte offset in tokio's test files: comments
(nested block comments, doc comments), string literals (escaped, raw `r#".."#`, byte and C
strings), char literals against lifetimes and labels, and balanced brackets. An item is a
`fn NAME` or an `impl` block wherever it sits (at file level, in a `mod`, in a macro
invocation's body such as `rt_test! { .. }`, or nested in another function's body); its range
runs from its first attribute or doc comment to its closing brace (or `;`).

Invariants: offsets are byte offsets into the source as given (the caller passes bytes, as
rustc's JSON spans count bytes); `blank` keeps every newline and every byte outside the ranges,
so a line or byte offset of the blanked file names the same place in the original.
"""

import re

IDENT = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*")
NUMBER = re.compile(rb"[0-9][A-Za-z0-9_]*")
QUALIFIERS = {b"pub", b"async", b"unsafe", b"const", b"extern", b"default", b"crate", b"in",
              b"self", b"super"}
# An attribute that makes a function a test: `#[test]`, `#[tokio::test]`, `#[tokio::test(..)]`,
# a renamed `#[maybe_tokio_test]`, or one of those under `#[cfg_attr(.., test)]`.
TEST_ATTR = re.compile(rb"^#\s*\[\s*(?:cfg_attr\s*\(.*,\s*)?(?:\w+\s*::\s*)*\w*test\b(?!\s*=)",
                       re.S)


class Tok:
    __slots__ = ("kind", "start", "end", "text", "match")

    def __init__(self, kind, start, end, text):
        self.kind, self.start, self.end, self.text, self.match = kind, start, end, text, None

    def __repr__(self):
        return f"{self.kind}:{self.text!r}@{self.start}"


def lex(src):
    """Tokens of `src` (bytes): ident, lit, lifetime, punct, open, close, doc (doc comments;
    plain comments are dropped). Brackets carry the index of their partner in `match`."""
    toks, i, n = [], 0, len(src)
    stack = []

    def add(kind, start, end):
        toks.append(Tok(kind, start, end, src[start:end]))

    while i < n:
        c = src[i:i + 1]
        if c in b" \t\r\n":
            i += 1
        elif src.startswith(b"//", i):
            j = src.find(b"\n", i)
            j = n if j < 0 else j
            if (src.startswith(b"///", i) and not src.startswith(b"////", i)) or src.startswith(b"//!", i):
                add("doc", i, j)
            i = j
        elif src.startswith(b"/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith(b"/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith(b"*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if (src.startswith(b"/**", i) and not src.startswith(b"/***", i)
                    and not src.startswith(b"/**/", i)) or src.startswith(b"/*!", i):
                add("doc", i, j)
            i = j
        elif c == b'"':
            j = _string_end(src, i + 1)
            add("lit", i, j)
            i = j
        elif c == b"'":
            j = _char_end(src, i)
            if j:
                add("lit", i, j)
                i = j
            else:
                m = IDENT.match(src, i + 1)
                j = m.end() if m else i + 1
                add("lifetime", i, j)
                i = j
        elif IDENT.match(src, i):
            m = IDENT.match(src, i)
            word, j = m.group(0), m.end()
            if word in (b"r", b"br", b"cr") and src[j:j + 1] in (b'"', b"#"):
                k = j
                while src[k:k + 1] == b"#":
                    k += 1
                if src[k:k + 1] == b'"':
                    close = b'"' + b"#" * (k - j)
                    e = src.find(close, k + 1)
                    e = n if e < 0 else e + len(close)
                    add("lit", i, e)
                    i = e
                    continue
                if word == b"r" and k == j + 1 and IDENT.match(src, k):
                    m2 = IDENT.match(src, k)  # a raw identifier `r#name`
                    add("ident", k, m2.end())
                    i = m2.end()
                    continue
            if word in (b"b", b"c") and src[j:j + 1] == b'"':
                e = _string_end(src, j + 1)
                add("lit", i, e)
                i = e
                continue
            if word == b"b" and src[j:j + 1] == b"'":
                e = _char_end(src, j) or j + 1
                add("lit", i, e)
                i = e
                continue
            add("ident", i, j)
            i = j
        elif NUMBER.match(src, i):
            j = NUMBER.match(src, i).end()
            add("lit", i, j)
            i = j
        elif c in b"([{":
            stack.append(len(toks))
            add("open", i, i + 1)
            i += 1
        elif c in b")]}":
            add("close", i, i + 1)
            if stack:
                o = stack.pop()
                toks[o].match, toks[-1].match = len(toks) - 1, o
            i += 1
        else:
            add("punct", i, i + 1)
            i += 1
    return toks


def _string_end(src, i):
    """The offset just past the closing quote of a string whose body starts at `i`."""
    n = len(src)
    while i < n:
        c = src[i:i + 1]
        if c == b"\\":
            i += 2
        elif c == b'"':
            return i + 1
        else:
            i += 1
    return n


def _char_end(src, i):
    """If a char literal starts at `src[i] == '\\''`, the offset past it; else None (a
    lifetime or a label)."""
    if src[i + 1:i + 2] == b"\\":
        j = src.find(b"'", i + 3)
        return j + 1 if 0 < j < i + 12 else None
    # One character, ASCII or a UTF-8 sequence of up to 4 bytes, then the closing quote.
    first = src[i + 1] if i + 1 < len(src) else 0
    width = 1 if first < 0x80 else 2 if first >> 5 == 0b110 else 3 if first >> 4 == 0b1110 else 4
    if src[i + 1 + width:i + 2 + width] == b"'" and src[i + 1:i + 2] != b"'":
        return i + 2 + width
    return None


class Item:
    """A `fn` or an `impl` block: its name (for an impl, the implementing type's last path
    segment), its byte range with attributes, and whether an attribute makes it a test."""

    def __init__(self, kind, name, start, end, attrs, line):
        self.kind, self.name, self.start, self.end = kind, name, start, end
        self.attrs, self.line = attrs, line
        self.is_test = kind == "fn" and any(TEST_ATTR.match(a) for a in attrs)

    def contains(self, offset):
        return self.start <= offset < self.end

    def __repr__(self):
        return f"{self.kind} {self.name} [{self.start}, {self.end}){' test' if self.is_test else ''}"


def items(src):
    """Every fn and impl item of `src` (bytes), in source order."""
    toks = lex(src)
    out = []
    for k, t in enumerate(toks):
        if t.kind != "ident" or t.text not in (b"fn", b"impl"):
            continue
        if t.text == b"fn":
            if k + 1 >= len(toks) or toks[k + 1].kind != "ident":
                continue  # a `fn(..)` pointer type
            name = toks[k + 1].text.decode("utf-8", "replace")
        elif not _item_position(toks, k):
            continue  # `impl Trait` in a type
        end = _body_end(toks, k)
        if end is None:
            continue
        start, attrs = _item_start(src, toks, k)
        if t.text == b"impl":
            name = _impl_type(toks, k)
        out.append(Item(t.text.decode(), name, start, end, attrs, src.count(b"\n", 0, start) + 1))
    return out


def _item_position(toks, k):
    j = k - 1
    while j >= 0 and toks[j].kind == "ident" and toks[j].text in (b"unsafe", b"default"):
        j -= 1
    return j < 0 or toks[j].text in (b"}", b";", b"{", b"]") or toks[j].kind == "doc"


def _body_end(toks, k):
    """The end offset of the item whose keyword is `toks[k]`: past its `{..}` body or `;`."""
    j = k + 1
    while j < len(toks):
        t = toks[j]
        if t.kind == "open" and t.text == b"{":
            return toks[t.match].end if t.match is not None else None
        if t.kind == "open" and t.match is not None:
            j = t.match + 1
            continue
        if t.text == b";" or t.kind == "close":
            return t.end if t.text == b";" else None
        j += 1
    return None


def _item_start(src, toks, k):
    """Walk back from an item keyword over qualifiers, attributes and doc comments."""
    j, attrs = k - 1, []
    start = toks[k].start
    while j >= 0:
        t = toks[j]
        if t.kind == "ident" and t.text in QUALIFIERS:
            start, j = t.start, j - 1
        elif t.kind == "lit" and t.text.startswith(b'"') and j > 0 and toks[j - 1].text == b"extern":
            start, j = t.start, j - 1
        elif t.kind == "close" and t.text == b")" and t.match is not None and t.match > 0 \
                and toks[t.match - 1].text == b"pub":
            start, j = toks[t.match - 1].start, t.match - 2
        elif t.kind == "close" and t.text == b"]" and t.match is not None and t.match > 0 \
                and toks[t.match - 1].text == b"#":
            o = t.match
            attrs.append(src[toks[o - 1].start:t.end])
            start, j = toks[o - 1].start, o - 2
        elif t.kind == "doc" and not t.text.startswith((b"//!", b"/*!")):
            start, j = t.start, j - 1
        else:
            break
    return start, attrs


def _impl_type(toks, k):
    """`impl<T> Trait for a::Type<T> {` -> `Type`; `impl<T> Type<T> {` -> `Type`."""
    j, depth = k + 1, 0
    head = []
    while j < len(toks) and not (toks[j].kind == "open" and toks[j].text == b"{"):
        head.append(toks[j])
        j += 1
    # Drop the impl's own generics `<..>` (a `->` inside them is not a closing angle).
    if head and head[0].text == b"<":
        for i, t in enumerate(head):
            if t.text == b"<":
                depth += 1
            elif t.text == b">" and not (i and head[i - 1].text == b"-"):
                depth -= 1
                if depth == 0:
                    head = head[i + 1:]
                    break
    fors = [i for i, t in enumerate(head) if t.text == b"for"]
    if fors:
        head = head[fors[-1] + 1:]
    name = "?"
    for t in head:
        if t.text in (b"<", b"where"):
            break
        if t.kind == "ident" and t.text not in (b"dyn", b"mut", b"const"):
            name = t.text.decode("utf-8", "replace")
    return name


def idents(src, start, end):
    """The identifiers written between two offsets of `src`."""
    return {t.text.decode("utf-8", "replace") for t in lex(src[start:end]) if t.kind == "ident"}


def blank(src, ranges):
    """`src` with every byte of the given ranges but newlines replaced by a space."""
    out = bytearray(src)
    for start, end in ranges:
        for i in range(start, end):
            if out[i] != 0x0A:
                out[i] = 0x20
    return bytes(out)

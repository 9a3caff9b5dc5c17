"""A small IMAP response parser for tests: turns FETCH data into nested
Python lists so two servers' answers compare by meaning (quoted string vs
literal, atom case in keys) rather than by bytes."""


class Atom(bytes):
    """An unquoted token, distinct from a string with the same bytes."""


def raw_from_imaplib(data):
    """Rebuild the raw response bytes from imaplib's fetch() data list."""
    out = b""
    for item in data:
        if isinstance(item, tuple):
            # imaplib drops the CRLF that ends the "{n}" line
            out += item[0] + b"\r\n" + item[1]
        elif item is not None:
            out += item
    return out


def parse(raw):
    """Parse a sequence of parenthesized lists/tokens. Returns a list."""
    pos = 0
    n = len(raw)
    stack = [[]]
    while pos < n:
        c = raw[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            pos += 1
            val = bytearray()
            while raw[pos:pos + 1] != b'"':
                if raw[pos:pos + 1] == b"\\":
                    pos += 1
                val += raw[pos:pos + 1]
                pos += 1
            pos += 1
            stack[-1].append(bytes(val))
        elif c == b"{" or raw[pos:pos + 2] == b"~{":
            if c == b"~":
                pos += 1
            end = raw.index(b"}", pos)
            length = int(raw[pos + 1:end].rstrip(b"+-"))
            pos = end + 1
            assert raw[pos:pos + 2] == b"\r\n", "literal without CRLF"
            pos += 2
            stack[-1].append(raw[pos:pos + length])
            pos += length
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = raw[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                pos += 1
            tok = raw[start:pos]
            stack[-1].append(None if tok.upper() == b"NIL" else Atom(tok))
    return stack[0]


def fetch_items(raw):
    """{seq: {ITEM-NAME: value}} from FETCH responses, raw ('* n FETCH
    (...)') or as imaplib hands them over ('n (...)')."""
    toks = parse(raw)
    out = {}
    i = 0
    while i < len(toks):
        t = toks[i]
        if isinstance(t, Atom) and t.isdigit():
            j = i + 1
            if j < len(toks) and isinstance(toks[j], Atom) and toks[j].upper() == b"FETCH":
                j += 1
            if j < len(toks) and isinstance(toks[j], list):
                d = out.setdefault(int(t), {})
                lst = toks[j]
                for k in range(0, len(lst) - 1, 2):
                    d[bytes(lst[k]).upper()] = lst[k + 1]
                i = j + 1
                continue
        i += 1
    return out

"""The pre-auth limits admit every legal command (issue 17, item 6): an ID
at RFC 2971's limits (30 field/value pairs, fields of 30 octets, values of
1,024) was refused with BAD [TOOBIG] because the line limit before login
was 8,192 bytes. The class: the ID command at its limits in every form a
client may write its strings (plain quoted, quoted with every character
escaped, literals, non-synchronizing literals), and LOGIN with literals of
the largest pre-auth size; just past a limit, a clear BAD and the session
goes on."""
import pytest

from conftest import read_until_tagged

TAG = b"t" * 64          # the longest tag Haven accepts
PAIRS, FIELD, VALUE = 30, 30, 1024


def quoted(s, escape_all=False):
    if escape_all:
        return b'"' + b"".join(b"\\" + bytes([c]) for c in s) + b'"'
    return b'"' + s + b'"'


def literal(s, sync):
    return b"{%d%s}\r\n" % (len(s), b"" if sync else b"+") + s


def id_strings(i):
    """Field i and its value at their longest, made of the two characters
    a quoted string must escape (field i spells i in binary)."""
    field = bytes(b'\\"'[(i >> k) & 1] for k in range(FIELD))
    value = b'\\"' * (VALUE // 2)
    return field, value


def id_command(form):
    parts = []
    for i in range(PAIRS):
        for s in id_strings(i):
            if form == "quoted":
                parts.append(quoted(s.replace(b'"', b"x").replace(b"\\", b"y")))
            elif form == "escaped":
                parts.append(quoted(s, escape_all=True))
            else:
                parts.append(literal(s, sync=form == "literal"))
    return TAG + b" ID (" + b" ".join(parts) + b")\r\n"


def send_sync(s, f, data):
    """Send a command, waiting for "+" after every synchronizing literal."""
    chunks = data.split(b"}\r\n")
    for chunk in chunks[:-1]:
        s.sendall(chunk + b"}\r\n")
        if not chunk.endswith(b"+"):
            line = f.readline()
            assert line.startswith(b"+"), line
    s.sendall(chunks[-1])


def ok(s, f, tag):
    lines = read_until_tagged(f, tag)
    assert lines[-1].startswith(tag + b" OK"), lines[-1][:200]
    return lines


@pytest.mark.parametrize("form", ["quoted", "escaped", "literal", "literal+"])
def test_largest_id_before_login(haven, form):
    s, f = haven.raw()
    cmd = id_command(form)
    if form == "quoted":     # the reported case: 31,807 bytes with the tag "A1"
        assert len(cmd) - 2 - len(TAG) + len(b"A1") == 31807, len(cmd)
    if form == "escaped":    # the longest legal ID (doc/haven.conf.5), CRLF aside
        assert len(cmd) - 2 == 63489, len(cmd)
    send_sync(s, f, cmd)
    lines = ok(s, f, TAG)
    assert lines[0].startswith(b'* ID ("name" "Haven"'), lines[0]
    # Still before login, and usable.
    s.sendall(b"b LOGIN alice pw-alice\r\n")
    ok(s, f, b"b")
    s.close()


def test_largest_login_literals(haven):
    s, f = haven.raw()
    big = b"u" * 8192       # max_literal_preauth
    send_sync(s, f, b"a LOGIN " + literal(big, False) + b" " + literal(big, True) + b"\r\n")
    lines = read_until_tagged(f, b"a")
    assert lines[-1].startswith(b"a NO [AUTHENTICATIONFAILED]"), lines[-1]
    s.sendall(b"b LOGIN alice pw-alice\r\n")
    ok(s, f, b"b")
    s.close()


def test_past_the_limits_is_a_clear_bad(haven):
    s, f = haven.raw()
    cmd = id_command("escaped")
    # A 31st pair: legal syntax, too many pairs for RFC 2971.
    extra = TAG + b" ID (" + cmd[len(TAG) + 5:-3] + b' "x" "y")\r\n'
    s.sendall(extra)
    lines = read_until_tagged(f, TAG)
    assert lines[-1].startswith(TAG + b" BAD") and b"30" in lines[-1], lines[-1]
    # A line past max_preauth_line (65,536 bytes).
    s.sendall(b"c NOOP " + b"x" * 65536 + b"\r\n")
    assert read_until_tagged(f, b"c")[-1].startswith(b"c BAD [TOOBIG]")
    s.sendall(b"d LOGIN alice pw-alice\r\n")
    ok(s, f, b"d")
    s.close()

"""Mailboxes that come and go (issue 17, items 12 and 13).

12: a mailbox deleted and created again under the same name gets a greater
UIDVALIDITY (RFC 9051 2.3.1.1), also within one second (CREATE; STATUS;
DELETE; CREATE; STATUS pipelined once showed the same value twice) and
across a restart of the server.

13: an mbox mailbox is a file and can have no children, so LIST says
\\NoInferiors (not just \\HasNoChildren) and nothing can be created below
it; a name below a mailbox, or below INBOX, names nothing: DELETE, RENAME,
SELECT and STATUS of it answer [NONEXISTENT] (DELETE answered [CANNOT]),
CREATE and a RENAME to it [CANNOT]."""
import re

import pytest

from conftest import Haven, check_sanitizers, only_backends
from rfc9051_common import Session, tagged

UIDV = re.compile(rb"UIDVALIDITY (\d+)")


def uidvalidity(s, box):
    out = s.ok(b"STATUS " + box + b" (UIDVALIDITY)")
    return int(UIDV.search(out[0]).group(1))


def pipelined_recreate(s, box, rounds):
    """CREATE; STATUS; DELETE, `rounds` times in one write, as fast as the
    server answers: every UIDVALIDITY it gave, in order."""
    cmds = b""
    for i in range(rounds):
        cmds += (b"c%d CREATE %s\r\ns%d STATUS %s (UIDVALIDITY)\r\nd%d DELETE %s\r\n"
                 % (i, box, i, box, i, box))
    s.send(cmds)
    seen = []
    for i in range(rounds):
        for tag in (b"c%d" % i, b"s%d" % i, b"d%d" % i):
            out = s.until(tag)
            assert re.match(rb"\w+ OK", out[-1]), out
            if tag.startswith(b"s"):
                seen.append(int(UIDV.search(out[0]).group(1)))
    return seen


def test_recreated_mailbox_gets_a_greater_uidvalidity(haven):
    s = Session(haven)
    seen = pipelined_recreate(s, b"Again", 5)
    assert seen == sorted(set(seen)), seen
    # A hierarchy level does not disturb it; nor does a mailbox with mail.
    s.ok(b"CREATE Again")
    s.append(b"Again", b"Subject: x\r\n\r\nx\r\n")
    before = uidvalidity(s, b"Again")
    s.ok(b"DELETE Again")
    s.ok(b"CREATE Again/Sub")
    s.ok(b"DELETE Again/Sub")
    s.ok(b"DELETE Again")
    s.ok(b"CREATE Again")
    assert uidvalidity(s, b"Again") > before
    s.close()


def test_uidvalidity_grows_across_restarts(haven_factory):
    h = haven_factory()
    s = Session(h)
    first = pipelined_recreate(s, b"Box", 3)
    s.close()
    h.stop()
    h.start()
    s = Session(h)
    second = pipelined_recreate(s, b"Box", 3)
    s.close()
    assert first + second == sorted(set(first + second)), (first, second)


@only_backends("mbox")
def test_uidvalidity_greater_than_a_deleted_mailboxs_own(haven):
    """A mailbox whose UIDVALIDITY came from elsewhere (another server's
    file, far in the future): its successor is still greater."""
    s = Session(haven)
    s.ok(b"CREATE Imported")
    path = "%s/alice/mail/Imported" % haven.home_root
    with open(path, "wb") as f:
        f.write(b"From x@y Mon Jan  1 00:00:00 2024\nX-IMAPbase: 4000000000 0000000001\n"
                b"X-UID: 1\nSubject: old\n\nold\n\n")
    assert uidvalidity(s, b"Imported") == 4000000000
    s.ok(b"DELETE Imported")
    s.ok(b"CREATE Imported")
    assert uidvalidity(s, b"Imported") > 4000000000
    s.close()


def list_attrs(s, pattern):
    out = {}
    for line in s.ok(b'LIST "" ' + pattern)[:-1]:
        m = re.match(rb'\* LIST \(([^)]*)\) "/" "?([^"\r]*)"?\r\n', line)
        out[m.group(2)] = set(m.group(1).split())
    return out


def test_mailboxes_are_no_inferiors(haven):
    s = Session(haven)
    s.ok(b"CREATE Tofu")
    s.ok(b"CREATE Fruit/Apple")
    s.ok(b"CREATE Empty/")
    got = list_attrs(s, b"*")
    assert got[b"Tofu"] == {b"\\NoInferiors", b"\\HasNoChildren"}, got
    assert got[b"Fruit/Apple"] == {b"\\NoInferiors", b"\\HasNoChildren"}, got
    assert got[b"Fruit"] == {b"\\Noselect", b"\\HasChildren"}, got
    assert got[b"Empty"] == {b"\\Noselect", b"\\HasNoChildren"}, got
    assert got[b"INBOX"] == {b"\\NoInferiors", b"\\HasNoChildren"}, got
    # LIST-EXTENDED without CHILDREN still says \NoInferiors.
    out = s.ok(b'LIST () "" "Tofu" RETURN ()')
    assert out[0] == b'* LIST (\\NoInferiors) "/" "Tofu"\r\n', out
    s.close()


def nothing_below(s, parent):
    """Every command on a name below parent fails and changes nothing."""
    before = list_attrs(s, b"*")
    child = parent + b"/Child"
    for cmd in (b"DELETE %s", b"RENAME %s Elsewhere"):
        out = s.cmd(cmd % child)
        assert tagged(out).startswith(b"NO [NONEXISTENT]"), (cmd % child, out)
    for cmd in (b"SELECT %s", b"EXAMINE %s", b"STATUS %s (MESSAGES)"):
        out = s.cmd(cmd % child)
        assert re.match(rb"NO \[(NONEXISTENT|CANNOT)\]", tagged(out)), (cmd % child, out)
    for cmd in (b"CREATE %s", b"CREATE %s/", b"RENAME Other %s"):
        out = s.cmd(cmd % child)
        assert tagged(out).startswith(b"NO [CANNOT]"), (cmd % child, out)
    assert list_attrs(s, b"*") == before


def test_nothing_below_inbox(haven):
    """INBOX has no children in any store (they would be lost to a client
    that takes INBOX for a plain mailbox, and mbox cannot keep them)."""
    s = Session(haven)
    s.ok(b"CREATE Other")
    s.ok(b"SELECT INBOX")   # makes INBOX
    s.ok(b"UNSELECT")
    nothing_below(s, b"INBOX")
    s.close()


@only_backends("mbox")
@pytest.mark.parametrize("parent", [b"Tofu", b"Fruit/Apple"])
def test_nothing_below_a_mailbox(haven, parent):
    s = Session(haven)
    s.ok(b"CREATE Tofu")
    s.ok(b"CREATE Fruit/Apple")
    s.ok(b"CREATE Other")
    nothing_below(s, parent)
    s.close()


@only_backends("pgsql")
def test_database_mailboxes_have_children(haven):
    """In the PostgreSQL store a mailbox that holds messages can have
    children (RFC 9051 6.3.4): LIST says \\HasChildren without
    \\Noselect; DELETE of it keeps the children and leaves a \\Noselect
    level, whose messages are gone; RENAME takes the children along."""
    s = Session(haven)
    s.ok(b"CREATE Tofu")
    s.ok(b"APPEND Tofu {12+}\r\nSubject: t\r\n")
    s.ok(b"CREATE Tofu/Child")
    got = list_attrs(s, b"Tofu*")
    assert b"\\HasChildren" in got[b"Tofu"] and b"\\Noselect" not in got[b"Tofu"], got
    assert b"MESSAGES 1" in s.ok(b"STATUS Tofu (MESSAGES)")[0]
    s.ok(b"RENAME Tofu Soy")
    got = list_attrs(s, b"Soy*")
    assert set(got) == {b"Soy", b"Soy/Child"}, got
    s.ok(b"DELETE Soy")
    got = list_attrs(s, b"Soy*")
    assert b"\\Noselect" in got[b"Soy"] and b"\\HasChildren" in got[b"Soy"], got
    assert tagged(s.cmd(b"SELECT Soy")).startswith(b"NO"), "a level holds no messages"
    s.ok(b"DELETE Soy/Child")
    s.close()


def test_delete_of_missing_names(haven):
    """The rest of the class: a name that does not exist, at any depth."""
    s = Session(haven)
    s.ok(b"CREATE Fruit/Apple")
    for name in (b"Nope", b"Nope/Child", b"Fruit/Nope", b"Fruit/Nope/Deeper"):
        out = s.cmd(b"DELETE " + name)
        assert tagged(out).startswith(b"NO [NONEXISTENT]"), (name, out)
    s.close()

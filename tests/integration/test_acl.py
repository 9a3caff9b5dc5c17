"""ACL (RFC 4314) on the PostgreSQL store: SETACL, DELETEACL, GETACL,
LISTRIGHTS and MYRIGHTS with their exact responses and errors, the
virtual "c" and "d" rights, the owner's fixed rights, and a second user
reaching the first's mailboxes as "Other Users/alice/..." with exactly
the rights given. On mbox (no ACLs) the capability is absent and the
commands answer NO [CANNOT]. One server per store for the module."""
import pytest

from conftest import ALL_BACKENDS, Haven, check_sanitizers
from rfc9051_common import Session, untagged

OWNER = b"lrswipkxtecda"


def server(backend):
    if backend not in ALL_BACKENDS:
        pytest.skip("store %s not under test" % backend)
    h = Haven(backend=backend).start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


@pytest.fixture(scope="module")
def pg():
    yield from server("pgsql")


@pytest.fixture(scope="module")
def mb():
    yield from server("mbox")


def no(s, command):
    """The tagged NO of a command, without its tag."""
    return s.no(command).split(b" ", 1)[1]


def bad(s, command):
    return s.bad(command).split(b" ", 1)[1]


def one(s, command):
    """The single untagged response of a command that must succeed."""
    out = s.ok(command)
    assert len(out) == 2, out
    return out[0]


def test_capability_and_own_rights(pg):
    s = Session(pg)
    assert untagged(s.ok(b"CAPABILITY"))[0].endswith(b" ACL RIGHTS=texk LIST-MYRIGHTS\r\n")
    assert one(s, b"MYRIGHTS INBOX") == b'* MYRIGHTS "INBOX" ' + OWNER + b"\r\n"
    assert one(s, b"GETACL inbox") == b'* ACL "INBOX" "alice" ' + OWNER + b"\r\n"
    assert one(s, b"LISTRIGHTS INBOX Alice") == \
        b'* LISTRIGHTS "INBOX" "Alice" ' + OWNER + b"\r\n"
    assert one(s, b"LISTRIGHTS INBOX bob") == \
        b'* LISTRIGHTS "INBOX" "bob" "" l r s w i p k x t e a c d\r\n'


def test_list_myrights(pg):
    """RFC 8440: MYRIGHTS after each LIST line, none for a \\Noselect level."""
    s = Session(pg)
    s.ok(b"CREATE lvl/box")
    assert s.ok(b'LIST "" "lvl*" RETURN (MYRIGHTS)')[:-1] == [
        b'* LIST (\\Noselect) "/" "lvl"\r\n',
        b'* LIST (\\NoInferiors) "/" "lvl/box"\r\n',
        b'* MYRIGHTS "lvl/box" ' + OWNER + b"\r\n"]
    s.ok(b"DELETE lvl/box")


def test_setacl_modifications(pg):
    s = Session(pg)
    s.ok(b"SETACL Drafts Bob lrs")
    assert one(s, b"GETACL Drafts") == \
        b'* ACL "Drafts" "alice" ' + OWNER + b' "bob" lrs\r\n'
    s.ok(b"SETACL Drafts bob +kd")   # "d" is t e; k brings "c" along
    s.ok(b"SETACL Drafts anyone l")
    assert one(s, b"GETACL Drafts") == (b'* ACL "Drafts" "alice" ' + OWNER +
                                        b' "anyone" l "bob" lrsktecd\r\n')
    s.ok(b"SETACL Drafts bob -cs")   # "c" is k x
    assert one(s, b"GETACL Drafts") == (b'* ACL "Drafts" "alice" ' + OWNER +
                                        b' "anyone" l "bob" lrted\r\n')
    s.ok(b'SETACL Drafts bob ""')      # nothing left: the entry goes
    s.ok(b"DELETEACL Drafts anyone")
    s.ok(b"DELETEACL Drafts nobody-there")
    assert one(s, b"GETACL Drafts") == b'* ACL "Drafts" "alice" ' + OWNER + b"\r\n"


def test_errors(pg):
    s = Session(pg)
    assert bad(s, b"SETACL INBOX bob lrQswi") == b"BAD Uppercase rights are not allowed\r\n"
    assert bad(s, b"SETACL INBOX bob lrqswi") == b"BAD Unknown right in the rights list\r\n"
    assert bad(s, b"SETACL INBOX bob") == \
        b"BAD SETACL expects a mailbox, an identifier and rights\r\n"
    assert bad(s, b'GETACL INBOX ""').startswith(b"BAD GETACL expects a mailbox")
    assert bad(s, b'MYRIGHTS (INBOX)') == b"BAD MYRIGHTS expects a mailbox\r\n"
    assert bad(s, b'DELETEACL INBOX ""') == b"BAD Invalid identifier\r\n"
    assert no(s, b"SETACL INBOX -bob r") == \
        b"NO [CANNOT] Negative rights are not supported\r\n"
    assert no(s, b"SETACL INBOX ALICE r") == \
        b"NO [CANNOT] The owner's rights cannot be changed\r\n"
    assert no(s, b"DELETEACL INBOX alice") == \
        b"NO [CANNOT] The owner's rights cannot be changed\r\n"
    assert no(s, b"GETACL Nope") == b"NO [NONEXISTENT] Mailbox does not exist\r\n"
    assert no(s, b"MYRIGHTS Nope") == b"NO [NONEXISTENT] Mailbox does not exist\r\n"
    assert no(s, b"SETACL Nope bob r") == b"NO [NONEXISTENT] Mailbox does not exist\r\n"
    assert no(s, b'CREATE "Other Users/x"').startswith(b"NO [CANNOT] ")
    assert no(s, b'RENAME Junk "Other Users"').startswith(b"NO [CANNOT] ")
    assert one(s, b"MYRIGHTS INBOX") == b'* MYRIGHTS "INBOX" ' + OWNER + b"\r\n"


def test_other_user_rights(pg):
    """bob's rights on alice's mailboxes are what alice gives, checked by
    the store: no right at all looks like no mailbox."""
    alice, bob = Session(pg), Session(pg, user="bob")
    shared = b'"Other Users/alice/Sent"'
    gone = b"NO [NONEXISTENT] Mailbox does not exist\r\n"
    assert no(bob, b"MYRIGHTS " + shared).endswith(gone)
    assert no(bob, b'MYRIGHTS "Other Users/alice/Nope"').endswith(gone)
    assert no(bob, b'MYRIGHTS "Other Users/bob/INBOX"').endswith(gone)
    alice.ok(b"SETACL Sent bob lr")
    assert one(bob, b"MYRIGHTS " + shared) == b"* MYRIGHTS " + shared + b" lr\r\n"
    noperm = b'NO [NOPERM] You lack the "a" right on this mailbox\r\n'
    assert no(bob, b"GETACL " + shared).endswith(noperm)
    assert no(bob, b"SETACL " + shared + b" bob +a").endswith(noperm)
    assert no(bob, b"DELETEACL " + shared + b" bob").endswith(noperm)
    assert no(bob, b"LISTRIGHTS " + shared + b" bob").endswith(noperm)
    alice.ok(b"SETACL Sent anyone s")   # joined with bob's own entry
    assert one(bob, b"MYRIGHTS " + shared) == b"* MYRIGHTS " + shared + b" lrs\r\n"
    alice.ok(b"SETACL Sent bob +a")
    assert one(bob, b"GETACL " + shared) == (b"* ACL " + shared + b' "alice" ' + OWNER +
                                             b' "anyone" s "bob" lra\r\n')
    assert one(bob, b"LISTRIGHTS " + shared + b" alice") == \
        b"* LISTRIGHTS " + shared + b' "alice" ' + OWNER + b"\r\n"
    assert no(bob, b"SETACL " + shared + b" alice r").endswith(
        b"NO [CANNOT] The owner's rights cannot be changed\r\n")
    bob.ok(b"SETACL " + shared + b" anyone -s")   # an admin changes the list too
    alice.ok(b"DELETEACL Sent bob")
    assert no(bob, b"MYRIGHTS " + shared).endswith(gone)


def test_mbox_has_no_acl(mb):
    s = Session(mb)
    caps = untagged(s.ok(b"CAPABILITY"))[0]
    assert b" ACL" not in caps and b"RIGHTS=" not in caps, caps
    no_ = b"NO [CANNOT] This mail store keeps no access control lists\r\n"
    assert no(s, b"MYRIGHTS INBOX") == no_
    assert no(s, b"GETACL INBOX") == no_
    assert no(s, b"SETACL INBOX bob lr") == no_
    assert no(s, b"DELETEACL INBOX bob") == no_
    assert no(s, b"LISTRIGHTS INBOX bob") == no_
    assert bad(s, b"SETACL INBOX bob lrX") == b"BAD Uppercase rights are not allowed\r\n"
    assert bad(s, b'LIST "" INBOX RETURN (MYRIGHTS)').startswith(b"BAD ")
    s.ok(b'CREATE "Other Users/x"')   # an ordinary name where nothing is shared


def test_entries_follow_the_login(pg):
    """A renamed login keeps what it was given; a deleted one leaves
    nothing for the next user of that login."""
    s = Session(pg)
    pg.pg.psql("INSERT INTO haven.users (login) VALUES ('carol')", db=pg.db)
    s.ok(b"SETACL Archive Carol lr")
    assert one(s, b"GETACL Archive") == b'* ACL "Archive" "alice" ' + OWNER + b' "carol" lr\r\n'
    pg.pg.psql("UPDATE haven.users SET login = 'Dave' WHERE login = 'carol'", db=pg.db)
    assert one(s, b"GETACL Archive") == b'* ACL "Archive" "alice" ' + OWNER + b' "dave" lr\r\n'
    pg.pg.psql("DELETE FROM haven.users WHERE login = 'Dave'", db=pg.db)
    assert one(s, b"GETACL Archive") == b'* ACL "Archive" "alice" ' + OWNER + b"\r\n"

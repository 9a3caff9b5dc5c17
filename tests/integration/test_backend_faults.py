"""The storage contract under failure, for any backend: every operation of
the backend vtable is made to fail in turn (the `fail` backend injects
errors into the backend it wraps, here mbox), and each time the command
that needs it gets a tagged NO with a response code, the session goes on,
and nothing half-done is visible once the failure is switched off. Run
over every backend: each is held to the same contract."""
import os

import pytest

from conftest import Haven, check_sanitizers

MSG = b"From: a@example.org\r\nSubject: fault\r\n\r\nbody\r\n"


@pytest.fixture
def faulty(backend):
    h = Haven(backend=backend)
    control = os.path.join(h.dir, "fail-ops")
    with open(control, "w"):
        pass
    os.chmod(control, 0o644)
    with open(h.conf, "a") as f:
        f.write("mail_backend = fail\nfail_backend = %s\nfail_control = %s\n" % (backend, control))
    h.start()
    h.control = control
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def failing(h, *ops):
    with open(h.control, "w") as f:
        f.write(" ".join(ops) + "\n")


def seeded(h):
    m = h.login("alice")
    for i in range(3):
        assert m.append("INBOX", None, None, MSG.replace(b"fault", b"fault %d" % i))[0] == "OK"
    m.create("Target")
    return m


def tagged_no(m, *args):
    """Run a command; return its response code (the tagged NO's [...])."""
    typ, data = m._simple_command(*args)
    assert typ == "NO", (args, typ, data)
    text = data[-1].decode() if data and data[-1] else ""
    assert text.startswith("["), text
    return text[1:text.index("]")].split()[0]


# operation -> how a client reaches it (needs INBOX selected or not)
NAMESPACE_CASES = [
    ("list", ("LIST", '""', '"*"')),
    ("create", ("CREATE", "New")),
    ("delete", ("DELETE", "Target")),
    ("rename", ("RENAME", "Target", "Renamed")),
    ("subscribe", ("SUBSCRIBE", "Target")),
    ("status", ("STATUS", "INBOX", "(MESSAGES)")),
    ("select", ("SELECT", "INBOX")),
]


@pytest.mark.parametrize("op,cmd", NAMESPACE_CASES, ids=[c[0] for c in NAMESPACE_CASES])
def test_namespace_operation_fails_cleanly(faulty, op, cmd):
    m = seeded(faulty)
    failing(faulty, op)
    assert tagged_no(m, *cmd) == "UNAVAILABLE"
    failing(faulty)
    # The session goes on and nothing changed.
    typ, data = m.list('""', "*")
    assert typ == "OK"
    names = b" ".join(data)
    assert b"Target" in names and b"New" not in names and b"Renamed" not in names
    assert m.status("INBOX", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 3)")
    assert m.select("INBOX")[0] == "OK"
    m.logout()


@pytest.mark.parametrize("op", ["append_begin", "append_write", "append_finish"])
def test_append_fails_cleanly(faulty, op):
    m = seeded(faulty)
    failing(faulty, op)
    typ, data = m.append("INBOX", None, None, MSG)
    assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
    failing(faulty)
    assert m.select("INBOX")[1] == [b"3"]
    assert m.append("INBOX", None, None, MSG)[0] == "OK"
    m.logout()


SELECTED_CASES = [
    ("store_flags", ("STORE", "1", "+FLAGS", "(\\Flagged)")),
    ("expunge", ("EXPUNGE",)),
    ("copy", ("COPY", "1:2", "Target")),
    ("copy", ("MOVE", "1:2", "Target")),
    ("open_message", ("FETCH", "1", "(BODY.PEEK[])")),
    ("search", ("SEARCH", "SUBJECT", "fault")),
]


@pytest.mark.parametrize("op,cmd", SELECTED_CASES,
                         ids=["%s-%s" % (c[0], c[1][0]) for c in SELECTED_CASES])
def test_selected_operation_fails_cleanly(faulty, op, cmd):
    m = seeded(faulty)
    m.select("INBOX")
    m.store("1:3", "+FLAGS", "(\\Deleted)")
    m.store("1:3", "-FLAGS", "(\\Deleted)")
    m.store("3", "+FLAGS", "(\\Deleted)")
    failing(faulty, op)
    assert tagged_no(m, *cmd) == "UNAVAILABLE"
    failing(faulty)
    # Nothing of the failed command happened.
    typ, data = m.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK" and len(data) == 3, data
    assert b"\\Flagged" not in b" ".join(data)
    assert m.status("Target", "(MESSAGES)")[1][0].endswith(b"(MESSAGES 0)")
    assert m.search(None, "SUBJECT", "fault") == ("OK", [b"1 2 3"])
    m.logout()


def test_sync_failure_keeps_the_view(faulty):
    """A sync that fails (a store briefly down) is not a reason to end the
    session: the changes are reported by the next sync that works."""
    m = seeded(faulty)
    m.select("INBOX")
    other = faulty.login("alice")
    other.append("INBOX", None, None, MSG)
    failing(faulty, "sync")
    assert m.noop()[0] == "OK"
    failing(faulty)
    typ, data = m.noop()
    assert typ == "OK"
    assert b"4" in b" ".join(d for d in m.untagged_responses.get("EXISTS", []))
    other.logout()
    m.logout()


def test_metadata_gone_is_expunge_issued(faulty):
    """A message whose metadata cannot be had looks expunged: FETCH answers
    for the others and says so (RFC 9051 7.1, EXPUNGEISSUED)."""
    m = seeded(faulty)
    m.select("INBOX")
    failing(faulty, "meta")
    typ, data = m._simple_command("FETCH", "1:3", "(FLAGS)")
    assert typ == "OK"
    assert b"EXPUNGEISSUED" in data[-1]
    failing(faulty)
    assert len(m.fetch("1:3", "(FLAGS)")[1]) == 3
    m.logout()


def test_sort_and_thread_leave_out_what_looks_gone(faulty):
    """SORT and THREAD on messages whose metadata cannot be had: left out,
    as SEARCH leaves them out, and the session goes on (the worker used to
    take a NULL for metadata)."""
    m = seeded(faulty)
    m.select("INBOX")
    failing(faulty, "meta")
    for cmd in (("SORT", "(SUBJECT)", "UTF-8", "ALL"), ("THREAD", "REFERENCES", "UTF-8", "ALL")):
        typ, data = m._simple_command(*cmd)
        assert typ == "OK", (cmd, data)
        got = m.untagged_responses.pop(cmd[0], [None])
        assert got in ([None], [b""]), (cmd, got)
    failing(faulty)
    typ, data = m._simple_command("SORT", "(REVERSE SUBJECT)", "UTF-8", "ALL")
    assert typ == "OK" and m.untagged_responses.pop("SORT") == [b"3 2 1"]
    m.logout()


def test_store_that_will_not_open_answers_the_login(faulty):
    """A store that cannot be opened (its database down, the home gone)
    gets the login a tagged NO [UNAVAILABLE] from the user worker, then a
    BYE, rather than a connection closed without a word; the next login,
    once the store opens again, is served by a fresh worker."""
    failing(faulty, "store_open")
    s, f = faulty.raw()
    s.sendall(b"a1 LOGIN alice " + faulty.users["alice"].encode() + b"\r\n")
    assert f.readline() == b"a1 NO [UNAVAILABLE] Mail store unavailable, try again later\r\n"
    assert f.readline() == b"* BYE Mail store unavailable\r\n"
    assert f.readline() == b""
    s.close()
    failing(faulty)
    m = faulty.login("alice")
    assert m.select("INBOX")[0] == "OK"
    m.logout()

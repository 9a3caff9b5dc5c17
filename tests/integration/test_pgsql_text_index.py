"""The trigram index of SEARCH's texts is built after the APPEND, by the
user worker once it is idle (sql/migrations/0019, pg_tidy): a body waits
outside the index for a moment. SEARCH must stay exact meanwhile, for
bodies indexed and bodies not yet indexed alike, and the waiting bodies
must reach the index without anyone searching."""
import os
import time

import pytest

from conftest import Haven, check_sanitizers

BACKENDS = ["pgsql"]


def msg(i, body):
    return ("From: a%d@example.org\r\nTo: b@example.org\r\nSubject: note %d\r\n"
            "Content-Type: text/plain\r\n\r\n%s\r\n" % (i, i, body)).encode()


@pytest.fixture(scope="module")
def server():
    h = Haven(users=("alice",), backend="pgsql")
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def waiting(h):
    return int(h.pg.psql("SELECT count(*) FROM haven.bodies WHERE NOT text_indexed", db=h.db))


def indexed_all(h):
    """No body waits once the worker has been idle (bounded wait)."""
    deadline = time.time() + 30
    while waiting(h) and time.time() < deadline:
        time.sleep(0.2)
    assert waiting(h) == 0


def searches(m):
    """Every text key's answer, as the client sees it."""
    return [m.uid("SEARCH", *k)[1] for k in (
        ("BODY", "zebraquartz"), ("TEXT", "ZEBRAQUARTZ"), ("BODY", "\"quartz only\""),
        ("NOT", "BODY", "zebraquartz"), ("OR", "BODY", "walrusfjord", "SUBJECT", "\"note 1\""),
        ("BODY", "nowhere-at-all"))]


EXPECTED = [[b"2 3"], [b"2 3"], [b"3"], [b"1 4"], [b"1 4"], [b""]]


def test_search_exact_before_and_after_indexing(server):
    h = server
    m = h.login("alice")
    for i, body in enumerate(("plain words", "a zebraquartz here", "zebraquartz; quartz only",
                              "walrusfjord"), 1):
        assert m.append("INBOX", None, None, msg(i, body))[0] == "OK"
    assert m.select("INBOX") == ("OK", [b"4"])
    # the worker indexes them once idle: then no body waits
    indexed_all(h)
    assert searches(m) == EXPECTED
    # bodies 2 and 4 out of the index again, as right after their APPEND:
    # the answers stay the same (the waiting bodies are read exactly)
    h.pg.psql("UPDATE haven.bodies SET text_indexed = false WHERE search_text LIKE '%zebraquartz here%'"
              " OR search_text LIKE '%walrusfjord%'", db=h.db)
    assert waiting(h) == 2
    assert searches(m) == EXPECTED
    # every body out of the index: still the same
    h.pg.psql("UPDATE haven.bodies SET text_indexed = false", db=h.db)
    assert searches(m) == EXPECTED
    # the next APPEND's idle time puts every waiting body into the index
    assert m.append("INBOX", None, None, msg(5, "zebraquartz again"))[0] == "OK"
    indexed_all(h)
    assert m.uid("SEARCH", "BODY", "zebraquartz") == ("OK", [b"2 3 5"])
    m.logout()


def test_indexing_that_fails_changes_no_answer():
    """The worker's idle indexing failing (the `fail` backend injects it)
    is logged and tried again at the next idle moment; no client sees it."""
    h = Haven(users=("alice",), backend="pgsql")
    control = os.path.join(h.dir, "fail-ops")
    with open(control, "w") as f:
        f.write("tidy\n")
    os.chmod(control, 0o644)
    with open(h.conf, "a") as f:
        f.write("mail_backend = fail\nfail_backend = pgsql\nfail_control = %s\n" % control)
    h.start()
    try:
        m = h.login("alice")
        assert m.append("INBOX", None, None, msg(1, "a zebraquartz here"))[0] == "OK"
        assert m.select("INBOX") == ("OK", [b"1"])
        deadline = time.time() + 30   # idle: the indexing runs, and fails
        while "deferred store work" not in h.log_text() and time.time() < deadline:
            time.sleep(0.2)
        assert "deferred store work" in h.log_text()
        assert waiting(h) == 1
        assert m.uid("SEARCH", "BODY", "zebraquartz") == ("OK", [b"1"])
        with open(control, "w") as f:
            f.write("\n")
        assert m.noop()[0] == "OK"
        indexed_all(h)
        assert m.uid("SEARCH", "BODY", "zebraquartz") == ("OK", [b"1"])
        m.logout()
    finally:
        check_sanitizers(h.stop())
        h.cleanup()

"""The lmtp profile's mailbox: the load generator delivers to
user+benchlmtp@localhost (bench/lg_lmtp.c), which both servers store in the
user's mailbox `benchlmtp` when it exists (Haven: user+detail; Dovecot:
lmtp_save_to_detail_mailbox), and in INBOX otherwise. Before a run every
user's box is made over IMAP; after it the box is checked and deleted, so
that INBOXes never grow and the next profile finds every user as seeded
(as the append profile deletes its benchappend). Neither is measured.

The check, for each user: the box holds as many messages as the load
generator was answered 250 for; INBOX holds what it held before the run;
and the newest message, from its X-Bench-Id line on, is byte for byte a
corpus message behind that line (what comes before it is the server's
trace header: Return-Path, Delivered-To, Received). A difference is a
`verify` error of the run."""
import imaplib
import os
import re

BOX = "benchlmtp"


def corpus_set(d):
    """The messages a run may deliver, as a server stores them: the load
    generator ends one that does not end in CRLF with one."""
    out = set()
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            m = f.read()
        out.add(m if m.endswith(b"\r\n") else m + b"\r\n")
    return out


def _session(srv, login, password):
    m = imaplib.IMAP4("127.0.0.1", srv.port)
    m.login(login, password)
    return m


def _ok(what, typ, data):
    if typ != "OK":
        raise SystemExit("lmtp profile: %s: %s %r" % (what, typ, data))
    return data


def _messages(m, box):
    data = _ok("STATUS " + box, *m.status(box, "(MESSAGES)"))
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def prepare(srv, users):
    """Every user's box made anew (empty, whatever a run that was cut short
    left); their INBOXes' message counts."""
    inbox = {}
    for login, password in users:
        m = _session(srv, login, password)
        try:
            if _ok("LIST " + BOX, *m.list('""', BOX)) != [None]:
                _ok("DELETE " + BOX, *m.delete(BOX))
            _ok("CREATE " + BOX, *m.create(BOX))
            inbox[login] = _messages(m, "INBOX")
        finally:
            m.logout()
    return inbox


def _newest_ok(m, n, corpus):
    """The box's newest message (of n) is a corpus message behind its
    X-Bench-Id line."""
    _ok("SELECT " + BOX, *m.select(BOX, readonly=True))
    data = _ok("FETCH", *m.fetch(str(n), "(BODY.PEEK[])"))
    body = data[0][1] if isinstance(data[0], tuple) else b""
    at = body.find(b"X-Bench-Id: lmtp-")
    eol = body.find(b"\r\n", at)
    return at >= 0 and eol > at and body[eol + 2:] in corpus


def _check_user(m, login, want, inbox0, corpus):
    """What is wrong with login's mail after the run ([] when nothing)."""
    wrong = []
    n = _messages(m, BOX)
    if n != want:
        wrong.append("%s: %s holds %d messages, %d were delivered" % (login, BOX, n, want))
    inbox = _messages(m, "INBOX")
    if inbox != inbox0:
        wrong.append("%s: INBOX holds %d messages, %d before" % (login, inbox, inbox0))
    if n and not _newest_ok(m, n, corpus):
        wrong.append("%s: the newest message of %s is not the one sent" % (login, BOX))
    return wrong


def finish(srv, users, res, inbox0, corpus):
    """Check every user's mail against the run's result res (its
    delivered_per_user), delete the box; the faults go into res as verify
    errors (and res["lmtp_check"] says what they were)."""
    delivered = res.get("delivered_per_user") or [0] * len(users)
    wrong, checked = [], 0
    for (login, password), want in zip(users, delivered):
        m = _session(srv, login, password)
        try:
            faults = _check_user(m, login, want, inbox0[login], corpus)
            wrong += faults
            checked += not faults and want > 0
            if m.state == "SELECTED":
                m.close()
            _ok("DELETE " + BOX, *m.delete(BOX))
        finally:
            m.logout()
    res["verified"] = res.get("verified", 0) + checked
    if wrong:
        res["lmtp_check"] = wrong[:20]
        res["errors"]["verify"] += len(wrong)
        res["errors"]["total"] += len(wrong)

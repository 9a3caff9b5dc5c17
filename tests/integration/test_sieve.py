"""Sieve at delivery (RFC 5228 with fileinto, imap4flags, envelope,
subaddress, reject), in every store, with scripts installed the way an
administrator does it: the files of Pigeonhole's layout in the user's home
(mbox), the provisioning function haven.sieve_put (PostgreSQL). Mail comes
by LMTP and by haven-deliver. A script that does not compile or fails at
run time keeps the mail in INBOX and logs why."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, IS_ROOT, Haven, check_sanitizers, free_port, mail_identity
from lmtp_client import Lmtp, code_text
from netwait import wait_listening


def message(subject, frm=b"sender@example.org"):
    return (b"From: " + frm + b"\r\nTo: alice@example.org\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + subject.replace(b" ", b".") + b"@example.org>\r\n\r\n"
            b"body of " + subject + b"\r\n")


@pytest.fixture
def h(backend):
    d = tempfile.mkdtemp(prefix="haven-sieve-", dir="/tmp")
    port = free_port()
    h = Haven(users=("alice", "bob"), backend=backend,
              extra_conf="lmtp_listen = 127.0.0.1:%d, %s/lmtp\n"
                         "lmtp_local_domains = localhost, example.org" % (port, d))
    h.lmtp_port = port
    h.lmtp_path = d + "/lmtp"
    h.start()
    wait_listening(port, h.proc, 30, h.log_text)
    yield h
    check_sanitizers(h.stop())
    h.cleanup()
    shutil.rmtree(d, ignore_errors=True)


def install(h, user, script, name="rules"):
    """The user's active script, as an administrator installs it."""
    if h.backend == "pgsql":
        h.pg.psql("SELECT haven.sieve_put(:'u', :'n', :'s', true)", db=h.db,
                  vars={"u": user, "n": name, "s": script})
        return
    home = os.path.join(h.home_root, user)
    os.makedirs(os.path.join(home, "sieve"), exist_ok=True)
    with open(os.path.join(home, "sieve", name + ".sieve"), "w") as f:
        f.write(script)
    link = os.path.join(home, ".dovecot.sieve")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink("sieve/%s.sieve" % name, link)
    if IS_ROOT:
        _, uid, gid = mail_identity()
        for p in (home, os.path.join(home, "sieve"), os.path.join(home, "sieve", name + ".sieve")):
            os.chown(p, uid, gid)
        os.lchown(link, uid, gid)


def send(h, rcpts, msg, frm=b"<sender@example.org>"):
    """One LMTP transaction: the replies after DATA, one per recipient."""
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:" + frm)
    for r in rcpts:
        c.ok(b"RCPT TO:<" + r + b">")
    replies = c.data(msg, len(rcpts))
    c.close()
    return replies


def mailbox(h, user, box="INBOX"):
    """[(flags, subject)] of every message of the mailbox."""
    m = h.login(user)
    typ, data = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", data
    out = []
    for i in range(1, int(data[0]) + 1):
        typ, d = m.fetch(str(i), "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        flags = d[0][0].decode()
        flags = flags[flags.index("FLAGS (") + 7:]
        out.append((sorted(f for f in flags[:flags.index(")")].split() if f != "\\Recent"),
                    d[0][1].strip().decode().replace("Subject: ", "")))
    m.logout()
    return out


def create(h, user, *names):
    m = h.login(user)
    for n in names:
        assert m.create(n)[0] == "OK"
    m.logout()


FILEINTO = """require ["fileinto", "imap4flags"];
if header :contains "subject" "list" {
    fileinto :flags ["\\\\Seen", "$Lists"] "Lists";
} elsif header :contains "subject" "nowhere" {
    fileinto "Does/Not/Exist";
}
"""


def test_fileinto_with_flags(h):
    create(h, "alice", "Lists")
    install(h, "alice", FILEINTO)
    for subject in (b"a list post", b"personal", b"to nowhere"):
        (r,) = send(h, [b"alice@example.org"], message(subject))
        assert r[0] == 250, r
    assert mailbox(h, "alice", "Lists") == [(["$Lists", "\\Seen"], "a list post")]
    # a missing mailbox: kept in INBOX (Pigeonhole without :create), logged
    assert mailbox(h, "alice") == [([], "personal"), ([], "to nowhere")]
    assert 'fileinto "Does/Not/Exist"' in h.log_text()


def test_detail_with_and_without_a_script(h):
    create(h, "alice", "Work", "Other")
    create(h, "bob", "Work")
    install(h, "alice", 'require ["envelope", "subaddress", "fileinto"];\n'
                        'if envelope :detail "to" "other" { fileinto "Other"; }\n')
    replies = send(h, [b"alice+Work@example.org", b"alice+other@example.org",
                       b"bob+Work@example.org"], message(b"detailed"))
    assert [r[0] for r in replies] == [250, 250, 250], replies
    # the implicit keep goes where it would go without a script
    assert mailbox(h, "alice", "Work") == [([], "detailed")]
    assert mailbox(h, "alice", "Other") == [([], "detailed")]
    assert mailbox(h, "alice") == []
    assert mailbox(h, "bob", "Work") == [([], "detailed")]


def test_discard(h):
    install(h, "alice", 'if header :contains "subject" "spam" { discard; }\n')
    (r,) = send(h, [b"alice"], message(b"buy spam now"))
    assert r[0] == 250, r
    (r,) = send(h, [b"alice"], message(b"hello"))
    assert mailbox(h, "alice") == [([], "hello")]


def test_reject_refuses_for_that_recipient_only(h):
    install(h, "alice", 'require "reject";\n'
                        'if address :is "from" "pest@example.org" {\n'
                        '    reject "I do not take mail from you.";\n}\n')
    replies = send(h, [b"alice@example.org", b"bob@example.org"],
                   message(b"unwanted", frm=b"pest@example.org"))
    assert replies[0][0] == 550, replies
    assert code_text(replies[0])[1] == "5.7.1 I do not take mail from you."
    assert replies[1][0] == 250, replies
    assert mailbox(h, "alice") == []
    assert mailbox(h, "bob") == [([], "unwanted")]


def test_broken_script_keeps_mail_and_logs(h):
    install(h, "alice", 'fileinto "Lists";\n')   # no require: does not compile
    for subject in (b"one", b"two"):
        (r,) = send(h, [b"alice"], message(subject))
        assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "one"), ([], "two")]
    log = h.log_text()
    assert "does not compile" in log and "line 1" in log


def test_runtime_failure_keeps_mail_and_logs(h):
    # reject with keep is an action conflict: a run-time error (RFC 5429 2.1)
    install(h, "alice", 'require "reject";\nkeep;\nreject "no";\n')
    (r,) = send(h, [b"alice"], message(b"conflicted"))
    assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "conflicted")]
    assert "failed (mail kept in INBOX)" in h.log_text()


def test_redirect_without_outgoing_mail_keeps(h):
    install(h, "alice", 'redirect "elsewhere@example.net";\n')
    (r,) = send(h, [b"alice"], message(b"forward me"))
    assert r[0] == 250, r
    assert mailbox(h, "alice") == [([], "forward me")]
    assert "redirect to <elsewhere@example.net> not sent" in h.log_text()


def lda(h, user, msg):
    return subprocess.run([os.path.join(BUILD, "haven-deliver"), "-a", h.lmtp_path,
                           "-f", "pest@example.org", "-d", user],
                          input=msg.replace(b"\r\n", b"\n"), capture_output=True, timeout=60)


def test_lda_fileinto_and_reject(h):
    create(h, "alice", "Lists")
    install(h, "alice", 'require ["fileinto", "reject", "envelope"];\n'
                        'if envelope :is "from" "pest@example.org" {\n'
                        '    if header :contains "subject" "list" { fileinto "Lists"; }\n'
                        '    else { reject "Go away."; }\n}\n')
    r = lda(h, "alice", message(b"list mail"))
    assert r.returncode == 0, r.stderr
    r = lda(h, "alice", message(b"other mail"))
    assert r.returncode == 77 and b"5.7.1 Go away." in r.stderr, r
    assert mailbox(h, "alice", "Lists") == [([], "list mail")]
    assert mailbox(h, "alice") == []

"""`make demo`'s script, run for real: a server on a free port with the demo
user, whose seeded INBOX hands back exactly the bytes of the corpus files,
and which takes mail for demo@localhost over LMTP; Ctrl-C (SIGINT) stops it
cleanly."""
import imaplib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

from netwait import wait_listening
from conftest import BUILD, ROOT, check_sanitizers, corpus_messages, free_port
from lmtp_client import Lmtp

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]


def check_demo_inbox(port, d):
    """demo/demo logs in over STARTTLS with the certificate the demo made
    on its first run and finds exactly the corpus in INBOX (selected)."""
    m = imaplib.IMAP4("127.0.0.1", port)
    ctx = ssl.create_default_context(cafile=os.path.join(d, "tls", "cert.pem"))
    m.starttls(ssl_context=ctx)
    assert m.login("demo", "demo")[0] == "OK"
    typ, data = m.select("INBOX")
    corpus = {body: name for name, body in corpus_messages()}
    assert int(data[0]) == len(corpus)
    seen = set()
    for i in range(1, len(corpus) + 1):
        typ, data = m.fetch(str(i), "(BODY.PEEK[])")
        body = data[0][1]
        assert body in corpus, "message %d differs from every corpus file" % i
        seen.add(corpus[body])
    assert seen == set(corpus.values())
    return m


def check_demo_lmtp(port, lmtp_port, d):
    """Mail to demo@localhost over the demo's LMTP listener is in demo's
    INBOX, byte for byte behind the trace header; so is mail to demo."""
    c = Lmtp(lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:<someone@example.org>")
    c.ok(b"RCPT TO:<demo@localhost>")
    c.ok(b"RCPT TO:<demo>")
    msg = b"From: someone@example.org\r\nSubject: over LMTP\r\n\r\nhello demo\r\n"
    assert [r[0] for r in c.data(msg, 2)] == [250, 250]
    c.close()
    m = imaplib.IMAP4("127.0.0.1", port)
    m.starttls(ssl_context=ssl.create_default_context(cafile=os.path.join(d, "tls", "cert.pem")))
    m.login("demo", "demo")
    n = int(m.select("INBOX")[1][0])
    for i, rcpt in ((n - 1, b"demo@localhost"), (n, b"demo")):
        body = m.fetch(str(i), "(BODY.PEEK[])")[1][0][1]
        assert b"\r\nDelivered-To: " + rcpt + b"\r\n" in body and body.endswith(b"\r\n" + msg)
    m.logout()


def test_demo_end_to_end():
    d = tempfile.mkdtemp(prefix="haven-demo-")
    os.chmod(d, 0o755)
    port, lmtp_port = free_port(), free_port()
    env = dict(os.environ, HAVEN_BUILD=BUILD, HAVEN_DEMO_DIR=d, HAVEN_DEMO_PORT=str(port),
               HAVEN_DEMO_LMTP_PORT=str(lmtp_port))
    log = open(os.path.join(d, "demo.log"), "w+")
    p = subprocess.Popen(["sh", os.path.join(ROOT, "scripts", "demo")], env=env,
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, p, 60, lambda: open(log.name).read())
        check_demo_inbox(port, d).logout()
        check_demo_lmtp(port, lmtp_port, d)
        if shutil.which("curl"):
            out = subprocess.run(["curl", "-s", "--ssl-reqd", "--cacert",
                                  os.path.join(d, "tls", "cert.pem"), "-u", "demo:demo",
                                  "imap://127.0.0.1:%d/INBOX;MAILINDEX=1" % port],
                                 capture_output=True, timeout=30)
            assert out.returncode == 0, out.stderr
            assert out.stdout in [body for _, body in corpus_messages()]
        # Ctrl-C stops it cleanly.
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=20) == 0
        text = open(log.name).read()
        check_sanitizers(text)
        assert "stopped" in text
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
        if os.path.isdir("/var/lib/haven-demo") and os.geteuid() == 0:
            pass

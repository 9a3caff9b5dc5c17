"""Development mode: started by an ordinary user, havend runs the same
processes without chroot or uid switches, says so in its log, and serves
mail. Run through scripts/demo, as `make demo` does for a normal user."""
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from netwait import wait_listening
from conftest import BUILD, ROOT, check_sanitizers, corpus_messages, free_port

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]


def as_user_cmd(cmd):
    """Run cmd as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return cmd, None
    for name in ("havenmail", "nobody"):
        try:
            pw = pwd.getpwnam(name)
            return (["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
                     "--clear-groups"] + cmd, pw)
        except KeyError:
            continue
    pytest.skip("no unprivileged user to run as")


def test_demo_as_ordinary_user():
    d = tempfile.mkdtemp(prefix="haven-dev-")
    port = free_port()
    cmd, pw = as_user_cmd(["sh", os.path.join(ROOT, "scripts", "demo")])
    if pw:
        os.chown(d, pw.pw_uid, pw.pw_gid)
    # The build tree must be readable by that user (it is, under /tmp or /work).
    env = dict(os.environ, HAVEN_BUILD=BUILD, HAVEN_DEMO_DIR=d, HAVEN_DEMO_PORT=str(port),
               HOME=d)
    logpath = os.path.join(tempfile.gettempdir(), "haven-dev-%d.log" % port)
    log = open(logpath, "w")
    p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, p, 60, lambda: open(logpath).read())
        m = imaplib.IMAP4("127.0.0.1", port)
        assert m.login("demo", "demo")[0] == "OK"
        typ, data = m.select("INBOX")
        corpus = {body for _, body in corpus_messages()}
        assert int(data[0]) == len(corpus)
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert data[0][1] in corpus
        m.logout()
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=20) == 0
        text = open(logpath).read()
        check_sanitizers(text)
        assert "not root: no chroot and no uid switches" in text
        # Every file it made belongs to the user who ran it.
        if pw:
            for root, dirs, files in os.walk(d):
                for n in dirs + files:
                    assert os.lstat(os.path.join(root, n)).st_uid == pw.pw_uid, n
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)
        os.unlink(logpath)

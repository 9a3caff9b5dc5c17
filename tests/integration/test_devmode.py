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
from conftest import BUILD, CORPUS, ROOT, check_sanitizers, corpus_messages, free_port
from readable import all_readable, readable_tree

PROGRAMS = ("havend", "haven-login", "haven-worker", "haven-auth", "haven-lmtp",
            "haven-metrics")

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


def demo_copy():
    """scripts/demo, the corpus it seeds INBOX from and the programs it
    starts, where any user can read them (the checkout may be under /root,
    mode 0700)."""
    files = {"scripts/demo": os.path.join(ROOT, "scripts", "demo")}
    for name in os.listdir(CORPUS):
        files["tests/data/corpus/" + name] = os.path.join(CORPUS, name)
    for prog in PROGRAMS:
        files["build/" + prog] = os.path.join(BUILD, prog)
    return readable_tree(files)


def test_demo_as_ordinary_user():
    d = tempfile.mkdtemp(prefix="haven-dev-")
    top = demo_copy()
    port = free_port()
    cmd, pw = as_user_cmd(["sh", os.path.join(top, "scripts", "demo")])
    if pw:
        os.chown(d, pw.pw_uid, pw.pw_gid)
    env = dict(os.environ, HAVEN_BUILD=os.path.join(top, "build"), HAVEN_DEMO_DIR=d,
               HAVEN_DEMO_PORT=str(port), HAVEN_DEMO_LMTP_PORT=str(free_port()), HOME=d)
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
        shutil.rmtree(top, ignore_errors=True)
        os.unlink(logpath)


def test_readable_tree_reaches_an_ordinary_user():
    """What the test above relies on: a file under a directory only root
    may enter is out of the user's reach, its readable_tree copy is not."""
    private = tempfile.mkdtemp(prefix="haven-private-")   # mode 0700
    try:
        for name, mode in (("script", 0o700), ("data", 0o600)):
            with open(os.path.join(private, name), "w") as f:
                f.write("echo reached\n")
            os.chmod(os.path.join(private, name), mode)
        top = readable_tree({"a/b/script": os.path.join(private, "script"),
                             "data": os.path.join(private, "data")})
        try:
            assert all_readable(os.path.join(top, "a", "b", "script"))
            assert all_readable(os.path.join(top, "data"))
            assert os.access(os.path.join(top, "a", "b", "script"), os.X_OK)
            cmd, pw = as_user_cmd(["sh", os.path.join(top, "a", "b", "script")])
            assert subprocess.run(cmd, capture_output=True).stdout == b"reached\n"
            if pw:
                assert not all_readable(os.path.join(private, "script"))
                cmd, _ = as_user_cmd(["sh", os.path.join(private, "script")])
                assert subprocess.run(cmd, capture_output=True).returncode != 0
        finally:
            shutil.rmtree(top)
    finally:
        shutil.rmtree(private)

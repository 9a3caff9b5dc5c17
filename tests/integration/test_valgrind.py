"""Valgrind on the long-running processes (master, auth helper, user
worker) of the normal build, through logins, failed logins, mail traffic,
an idle worker exiting and a shutdown: no leaks, no memory errors. The
short-lived login workers are left out (they chroot and _exit; ASan covers
them in the other tests)."""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import vgrun
from netwait import wait_listening
from conftest import Haven, ROOT, corpus_messages

# About mbox files or processes, not the storage interface.
BACKENDS = ["mbox"]

PLAIN_BUILD = os.environ.get("HAVEN_PLAIN_BUILD", os.path.join(ROOT, "build"))


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.skipif(not os.path.exists(os.path.join(PLAIN_BUILD, "havend")),
                    reason="normal build missing")
def test_long_running_processes_under_valgrind():
    logdir = tempfile.mkdtemp(prefix="haven-vg-")
    os.chmod(logdir, 0o1777)  # the worker runs as the mail user
    h = Haven()
    conf = open(h.conf).read().replace("libexec_dir = ", "libexec_dir = %s\n#" % PLAIN_BUILD)
    open(h.conf, "w").write(conf)
    h.logf = open(h.log, "w")
    h.proc = subprocess.Popen(
        ["valgrind", "--vgdb=no", "--trace-children=yes", "--trace-children-skip=*haven-login",
         "--leak-check=full", "--show-leak-kinds=definite,indirect",
         "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
         "--log-file=%s/vg.%%p.%%n" % logdir,
         os.path.join(PLAIN_BUILD, "havend"), "-F", "-c", h.conf],
        stdout=h.logf, stderr=subprocess.STDOUT)
    try:
        wait_listening(h.port, h.proc, 60, h.log_text)
        m = h.imap()
        m.socket().settimeout(120)
        try:
            m.login("alice", "wrong")
        except Exception:
            pass
        m.login("alice", "pw-alice")
        for _, body in corpus_messages()[:3]:
            assert m.append("INBOX", r"(\Seen $Work)", None, body)[0] == "OK"
        m.select("INBOX")
        m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY[HEADER.FIELDS (SUBJECT)] BODY[])")
        m.store("1", "+FLAGS", r"(\Deleted)")
        m.expunge()
        m.create("Work/Old")
        m.list()
        m.status("INBOX", "(MESSAGES UIDNEXT)")
        m.logout()
        # Let the idle worker ask to quit and exit (worker_idle_timeout 2 s).
        time.sleep(8)
        h.proc.send_signal(signal.SIGTERM)
        h.proc.wait(timeout=60)
        reports = {}
        for path in glob.glob(os.path.join(logdir, "vg.*")):
            text = open(path, errors="replace").read()
            cmd = re.search(r"Command: (\S+)", text)
            if cmd and "ERROR SUMMARY" in text:
                reports[os.path.basename(cmd.group(1))] = text
        assert {"havend", "haven-auth", "haven-worker"} <= set(reports), reports.keys()
        for name, text in reports.items():
            assert "ERROR SUMMARY: 0 errors" in text, name + ":\n" + text[-6000:]
    finally:
        vgrun.finish(h, logdir)

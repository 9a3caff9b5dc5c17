"""havend -o KEY=VALUE (repeatable) overrides any key of the file, core
or a module's, for the server, -t and -n alike, and again at SIGHUP; a
bad override is named as "command line: -o KEY"."""
import imaplib
import os
import signal
import subprocess
import time

from conftest import BUILD, Haven, check_sanitizers, free_port
from netwait import wait_listening


def havend(h, *args):
    r = subprocess.run([os.path.join(BUILD, "havend"), "-c", h.conf] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_o_overrides_listen_and_passdb():
    # A second instance beside another, as the issue asks: another port,
    # another passdb, the same file.
    port = free_port()
    h = Haven()
    other = os.path.join(h.dir, "other-passwd")
    with open(other, "w") as f:
        f.write("carol:{PLAIN}pw-carol::::%s/carol::\n" % h.home_root)
    h.args = ["-o", "listen=127.0.0.1:%d" % port, "-o", "passdb=file:%s" % other]
    h.port = port
    try:
        h.start()
        m = h.imap()
        assert m.login("carol", "pw-carol")[0] == "OK"
        m.logout()
        m = h.imap()
        try:
            m.login("alice", "pw-alice")
            raise AssertionError("alice is not in the overriding passdb")
        except m.error as e:
            assert "AUTHENTICATIONFAILED" in str(e)
        m.logout()
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()


def test_second_instance_with_its_own_run_dir(tmp_path):
    # The scale-out interface: the same file, another listener and another
    # run_dir; every runtime file of the second lands under its run_dir
    # and the first keeps its own.
    h = Haven(tls=False)
    port = free_port()
    run2 = tmp_path / "run2"
    second = None
    try:
        h.start()
        log2 = open(tmp_path / "second.log", "w")
        second = subprocess.Popen([os.path.join(BUILD, "havend"), "-F", "-c", h.conf,
                                   "-o", "listen=127.0.0.1:%d" % port,
                                   "-o", "run_dir=%s" % run2, "-o", "pid_file=havend.pid"],
                                  stdout=log2, stderr=subprocess.STDOUT)
        wait_listening(port, second, 15, lambda: (tmp_path / "second.log").read_text())
        for p in (h.port, port):
            m = imaplib.IMAP4("127.0.0.1", p)
            assert m.login("alice", "pw-alice")[0] == "OK"
            m.logout()
        assert (run2 / "admin.sock").is_socket()
        assert (run2 / "havend.pid").read_text().strip() == str(second.pid)
        assert os.path.exists(os.path.join(h.dir, "admin.sock"))
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
        out = (tmp_path / "second.log").read_text()
        assert "admin_socket" not in out, out
        check_sanitizers(out)
        assert not (run2 / "havend.pid").exists() and not (run2 / "admin.sock").exists()
        assert "admin_socket" not in h.log_text()
        check_sanitizers(h.stop())
    finally:
        if second and second.poll() is None:
            second.kill()
        h.stop()
        h.cleanup()


def test_o_later_wins_and_n_shows_it():
    h = Haven()
    try:
        rc, out = havend(h, "-n", "-o", "max_bad_commands=7", "-o", "max_bad_commands=9",
                         "-o", "mbox_inbox=%h/other")
        assert rc == 0, out
        assert "\nmax_bad_commands = 9\n" in out
        assert 'mbox_inbox = "%h/other"' in out
    finally:
        h.cleanup()


def test_o_errors_name_the_command_line():
    h = Haven()
    try:
        rc, out = havend(h, "-t", "-o", "max_bad_commands=0")
        assert rc != 0 and "command line: -o max_bad_commands" in out, out
        rc, out = havend(h, "-t", "-o", "nosuchkey=1")
        assert rc != 0 and 'command line: -o nosuchkey: unknown key "nosuchkey"' in out, out
        rc, out = havend(h, "-t", "-o", "=1")
        assert rc != 0 and "expected KEY=VALUE" in out, out
        # A cross-key check names the override as where the key was set.
        rc, out = havend(h, "-t", "-o", "login_chroot=relative")
        assert rc != 0 and "command line: -o login_chroot: login_chroot: must be" in out, out
        # A module's key is checked by the process that reads it.
        rc, out = havend(h, "-t", "-o", "mbox_nosuch=1")
        assert rc != 0 and "command line: -o mbox_nosuch" in out, out
        rc, out = havend(h, "-t", "-o", "max_bad_commands=5")
        assert rc == 0 and "configuration OK" in out, out
    finally:
        h.cleanup()


def test_o_survives_sighup():
    port = free_port()
    h = Haven(args=[])
    h.args = ["-o", "listen=127.0.0.1:%d" % port, "-o", "max_bad_commands=2"]
    h.port = port
    try:
        h.start()
        h.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline and "SIGHUP" not in h.log_text():
            time.sleep(0.1)
        time.sleep(0.5)
        # Still the override: two bad commands end the session.
        s, f = h.raw()
        s.sendall(b"a FOO\r\nb FOO\r\n")
        data = f.read()
        assert b"BYE" in data, data
        s.close()
        restart = [l for l in h.log_text().splitlines() if "needs a restart" in l]
        assert not any("listen" in l for l in restart), restart
        check_sanitizers(h.stop())
    finally:
        h.stop()
        h.cleanup()

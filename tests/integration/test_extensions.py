"""UIDPLUS (COPYUID), MOVE, NAMESPACE, ENABLE and IDLE against a running
havend, IDLE woken both by another session and by a local delivery that
appends to the mbox file directly, as an MDA does."""
import os
import re
import select
import socket
import time

from conftest import only_backends, read_until_tagged


def parse_set(s):
    out = []
    for part in s.split(b","):
        if b":" in part:
            a, b = part.split(b":")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def fill(m, n, box="INBOX"):
    for i in range(n):
        assert m.append(box, None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))[0] == "OK"


def test_copy_with_copyuid(haven):
    m = haven.login("alice")
    fill(m, 5)
    m.create("Dest")
    m.select("INBOX")
    typ, data = m.copy("2:4", "Dest")
    assert typ == "OK"
    code = re.search(rb"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", data[0])
    assert code, data
    src, dst = parse_set(code.group(2)), parse_set(code.group(3))
    assert src == [2, 3, 4] and len(dst) == 3
    typ, st = m.status("Dest", "(UIDVALIDITY MESSAGES)")
    assert b"UIDVALIDITY " + code.group(1) in st[0] and b"MESSAGES 3" in st[0]
    # The copies carry the same bytes, found by the UIDs COPYUID gave.
    m.select("Dest")
    for s_uid, d_uid in zip(src, dst):
        typ, d = m.uid("FETCH", str(d_uid), "(BODY.PEEK[TEXT])")
        assert d[0][1] == b"body %d\r\n" % (s_uid - 1)
    typ, data = m.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    m.logout()


def test_uid_move(haven):
    s, f = haven.raw()
    m = haven.login("alice")
    fill(m, 4)
    m.create("Archive")
    m.logout()
    s.sendall(b"a LOGIN alice pw-alice\r\nb SELECT INBOX\r\nc UID MOVE 2:3 Archive\r\n")
    lines = read_until_tagged(f, b"c")
    text = b"".join(lines)
    assert lines[-1].startswith(b"c OK")
    ok = [l for l in lines if l.startswith(b"* OK [COPYUID")]
    assert ok, text
    # COPYUID comes before the EXPUNGEs.
    first_expunge = min(i for i, l in enumerate(lines) if l.endswith(b"EXPUNGE\r\n"))
    assert lines.index(ok[0]) < first_expunge
    assert len([l for l in lines if l.endswith(b"EXPUNGE\r\n")]) == 2
    s.sendall(b"d STATUS Archive (MESSAGES)\r\ne FETCH 1:* (UID)\r\n")
    lines = read_until_tagged(f, b"e")
    assert b"MESSAGES 2" in b"".join(lines)
    assert [int(x) for x in re.findall(rb"UID (\d+)", b"".join(lines))] == [1, 4]
    s.close()


def test_namespace_and_enable(haven):
    m = haven.login("bob")
    typ, data = m.namespace()
    assert typ == "OK" and data[0] == b'(("" "/")) NIL NIL'
    typ, data = m._simple_command("ENABLE", "SOMETHING-UNKNOWN")
    assert typ == "OK"
    assert "ENABLED" in m.untagged_responses
    m.logout()


def start_idle(haven, user="alice"):
    s, f = haven.raw()
    s.sendall(b"a LOGIN %s pw-%s\r\nb SELECT INBOX\r\nc IDLE\r\n" % (user.encode(), user.encode()))
    read_until_tagged(f, b"b")
    assert f.readline().startswith(b"+")
    return s, f


def wait_line(s, f, want, timeout=10):
    s.settimeout(timeout)
    deadline = time.time() + timeout
    got = []
    while time.time() < deadline:
        line = f.readline()
        if not line:
            break
        got.append(line)
        if want in line:
            return got
    raise AssertionError("no %r in %r" % (want, got))


def test_idle_sees_other_session(haven):
    m = haven.login("alice")
    fill(m, 1)
    s, f = start_idle(haven)
    m.append("INBOX", None, None, b"Subject: new\r\n\r\nwhile idling\r\n")
    wait_line(s, f, b"* 2 EXISTS")
    m.select("INBOX")
    m.store("1", "+FLAGS", r"(\Deleted)")
    m.expunge()
    wait_line(s, f, b"* 1 EXPUNGE")
    s.sendall(b"DONE\r\n")
    assert read_until_tagged(f, b"c")[-1].startswith(b"c OK")
    s.sendall(b"d FETCH 1 (BODY.PEEK[TEXT])\r\n")
    assert b"while idling" in b"".join(read_until_tagged(f, b"d"))
    m.logout()
    s.close()


@only_backends("mbox")
def test_idle_sees_mda_delivery(haven):
    m = haven.login("bob")
    fill(m, 1)
    m.logout()
    s, f = start_idle(haven, "bob")
    inbox = os.path.join(haven.home_root, "bob", "INBOX")
    st = os.stat(inbox)
    # A local delivery as Debian's MDAs write it: From_ line, the message,
    # and an empty line that separates it from the next one.
    with open(inbox, "ab") as fp:
        fp.write(b"From mda@example.org Sun Nov 22 10:00:00 2026\n"
                 b"Subject: delivered\n\nby the MDA\n\n")
    os.chown(inbox, st.st_uid, st.st_gid)
    wait_line(s, f, b"* 2 EXISTS")
    s.sendall(b"DONE\r\n")
    read_until_tagged(f, b"c")
    s.sendall(b"d FETCH 2 (BODY.PEEK[TEXT])\r\n")
    assert b"by the MDA\r\n" in b"".join(read_until_tagged(f, b"d"))
    s.close()


def test_idle_bad_continuation(haven):
    s, f = start_idle(haven)
    s.sendall(b"NOPE\r\n")
    assert read_until_tagged(f, b"c")[-1].startswith(b"c BAD")
    s.sendall(b"d NOOP\r\n")
    assert read_until_tagged(f, b"d")[-1].startswith(b"d OK")
    s.close()


def inotify_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:inotify"
        except FileNotFoundError:
            pass
    return n


@only_backends("mbox")
def test_idle_sessions_share_one_inotify_instance(haven):
    """Several IDLE sessions of one user (one worker) on different
    mailboxes: one inotify instance (the kernel's per-uid limit is 128, and
    virtual users share a uid), and each session still sees only its own
    mailbox's news."""
    from procs import children_of
    m = haven.login("alice")
    m.create("Work")
    m.logout()
    idlers = []
    for i, box in enumerate([b"INBOX", b"Work", b"INBOX", b"Work"]):
        s, f = haven.raw()
        s.sendall(b"a LOGIN alice pw-alice\r\nb SELECT %s\r\nc IDLE\r\n" % box)
        read_until_tagged(f, b"b")
        assert f.readline().startswith(b"+")
        idlers.append((box, s, f))
    (worker,) = [pid for pid, argv in children_of(haven.proc.pid)
                 if argv and argv[0].endswith("haven-worker") and "alice" in argv]
    assert inotify_fds(worker) == 1
    m = haven.login("alice")
    fill(m, 1, "Work")
    for box, s, f in idlers:
        if box == b"Work":
            wait_line(s, f, b"* 1 EXISTS")
    fill(m, 2, "INBOX")
    for box, s, f in idlers:
        got = wait_line(s, f, b"* 2 EXISTS") if box == b"INBOX" else []
        assert b"".join(got).count(b"EXISTS") <= 2      # 1 then 2, or just 2
    # Sessions going away give their watches back; the rest keep working.
    for box, s, f in idlers[:2]:
        s.sendall(b"DONE\r\nz LOGOUT\r\n")
        read_until_tagged(f, b"z")
        s.close()
    fill(m, 1, "Work")
    wait_line(idlers[3][1], idlers[3][2], b"* 2 EXISTS")
    assert inotify_fds(worker) == 1
    m.logout()
    for box, s, f in idlers[2:]:
        s.close()

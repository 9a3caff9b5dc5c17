"""Real IMAP clients doing real work against havend, non-interactively and
bounded in time: mbsync (isync) syncing a mailbox tree both ways with a
local Maildir, mutt driven through a detached tmux session, and curl
fetching, listing, asking STATUS and uploading. Each test skips if its
client is not installed (scripts/install-deps installs them all)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import corpus_messages

FETCH_UID = re.compile(rb"UID (\d+)")
FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                 "T": "\\Deleted"}


def need(binary):
    path = shutil.which(binary)
    if not path:
        pytest.skip("%s is not installed (scripts/install-deps installs it)" % binary)
    return path


def corpus(*names):
    by_name = dict(corpus_messages())
    return [(n, by_name[n]) for n in names]


def append_all(m, box, msgs):
    uids = []
    for _, data in msgs:
        typ, resp = m.append(box, None, None, data)
        assert typ == "OK", resp
        uids.append(int(re.search(rb"APPENDUID \d+ (\d+)", resp[0]).group(1)))
    return uids


def fetch_items(data):
    """imaplib FETCH data -> [(meta bytes, literal or None)], with the text
    after a literal folded into that item's meta."""
    items = []
    for x in data:
        if x is None:
            continue
        if isinstance(x, tuple):
            items.append([x[0], x[1]])
        elif items and not re.match(rb"\d+ \(", x):
            items[-1][0] += x
        else:
            items.append([x, None])
    return items


def server_box(m, box):
    """{uid: (flags, body)} of box, read with EXAMINE and BODY.PEEK[], and
    the box's UIDVALIDITY."""
    typ, data = m.select('"%s"' % box, readonly=True)
    assert typ == "OK", (box, data)
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    out = {}
    if int(data[0]):
        typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        for meta, body in fetch_items(data):
            uid = int(FETCH_UID.search(meta).group(1))
            flags = frozenset(FETCH_FLAGS.search(meta).group(1).decode().split()) - {"\\Recent"}
            out[uid] = (flags, body)
    m.unselect()
    return uidvalidity, out


def server_tree(m):
    """{mailbox: (uidvalidity, {uid: (flags, body)})} of every selectable
    mailbox, and the raw LIST lines."""
    typ, lines = m.list()
    assert typ == "OK", lines
    tree = {}
    for line in lines:
        mo = re.match(rb'\(([^)]*)\) "/" "?([^"]*)"?$', line)
        assert mo, line
        if b"\\noselect" in mo.group(1).lower():
            continue
        name = mo.group(2).decode()
        tree[name] = server_box(m, name)
    return tree, sorted(lines)


# --- mbsync ------------------------------------------------------------

def maildir_tree(root):
    """{folder: {uid or file name: (flags, bytes)}} of every Maildir folder
    under root (a folder is a directory with cur/); messages mbsync has
    paired carry ,U=<uid> in their names."""
    tree = {}
    for dirpath, dirnames, _ in os.walk(root):
        if "cur" not in dirnames:
            continue
        name = os.path.relpath(dirpath, root)
        msgs = {}
        for sub in ("new", "cur"):
            for fn in os.listdir(os.path.join(dirpath, sub)):
                base, _, info = fn.partition(":2,")
                mo = re.search(r",U=(\d+)", base)
                key = int(mo.group(1)) if mo else fn
                flags = frozenset(MAILDIR_FLAGS[c] for c in info if c in MAILDIR_FLAGS)
                with open(os.path.join(dirpath, sub, fn), "rb") as f:
                    msgs[key] = (flags, f.read(), os.path.join(dirpath, sub, fn))
        tree[name] = msgs
    return tree


def strip_tuid(data, nl):
    """mbsync adds one 'X-TUID: <12 chars>' line at the end of the header of
    every message it copies (either way) to find it again; take it out."""
    mo = re.search(rb"(?m)^X-TUID: [A-Za-z0-9+/]{12}" + nl, data)
    if mo:
        assert data[mo.end():].startswith(nl), "X-TUID not at header end: %r" % data[:300]
        data = data[:mo.start()] + data[mo.end():]
    return data


def write_maildir_message(folder, name, data):
    """Deliver data into folder/new the Maildir way (tmp/, then rename)."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    tmp = os.path.join(folder, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(folder, "new", name))


def mbsync_rc(h, d):
    maildir = os.path.join(d, "Maildir")
    os.mkdir(maildir)
    rc = os.path.join(d, "mbsyncrc")
    # isync 1.4 option names (SSLType, not 1.5's TLSType). It matches the
    # certificate against DNS names and the CN only, never an IP address:
    # hence localhost (CN=localhost), which it resolves to 127.0.0.1.
    with open(rc, "w") as f:
        f.write("""IMAPAccount haven
Host localhost
Port %d
User alice
Pass pw-alice
SSLType STARTTLS
CertificateFile %s
Timeout 30

IMAPStore far
Account haven

MaildirStore near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel all
Far :far:
Near :near:
Patterns *
Create Both
Expunge Both
SyncState *
""" % (h.port, h.cert, maildir, maildir))
    return rc, maildir


def run_mbsync(rc, home):
    p = subprocess.run(["mbsync", "-c", rc, "-a", "-V", "-D"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=180, env=dict(os.environ, HOME=home))
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, "mbsync exited %d:\n%s" % (p.returncode, out[-20000:])
    return out


def assert_in_sync(m, maildir, trace):
    """Every selectable server mailbox has a Maildir folder holding the same
    messages (UIDs paired by mbsync), flags and bytes: the server's CRLF
    bytes are the local LF bytes plus the X-TUID line mbsync adds."""
    server, _ = server_tree(m)
    local = maildir_tree(maildir)
    assert sorted(local) == sorted(server), trace[-20000:]
    for box, (_, msgs) in server.items():
        lmsgs = local[box]
        assert sorted(lmsgs, key=str) == sorted(msgs, key=str), (box, trace[-20000:])
        for uid, (flags, body) in msgs.items():
            lflags, ldata, path = lmsgs[uid]
            assert lflags == flags, (box, uid, path, flags)
            assert strip_tuid(ldata, b"\n") == strip_tuid(body, b"\r\n").replace(b"\r\n", b"\n"), \
                "%s UID %d differs from %s" % (box, uid, path)
    return server, local


MUTATING = re.compile(r">>> \d+ (UID STORE|STORE|APPEND|EXPUNGE|UID EXPUNGE|CREATE|DELETE|"
                      r"RENAME|COPY|UID COPY|MOVE|UID MOVE)\b")


def test_mbsync_two_way_sync(haven, tmp_path):
    need("mbsync")
    msgs = corpus_messages()
    assert len(msgs) >= 7
    m = haven.login("alice")
    # mbox: a mailbox is a file, so "Work" holding messages cannot also have
    # children; the tree is INBOX, Work (\Noselect), Work/Projects, Work/Archive.
    assert m.create("Work/Projects")[0] == "OK"
    assert m.create("Work/Archive")[0] == "OK"
    inbox_uids = append_all(m, "INBOX", msgs[0:3])
    append_all(m, "Work/Projects", msgs[3:5])
    append_all(m, "Work/Archive", msgs[5:7])
    m.select("INBOX")
    m.uid("STORE", str(inbox_uids[2]), "+FLAGS", r"(\Flagged)")
    m.select("Work/Projects")
    m.store("1", "+FLAGS", r"(\Seen \Answered)")
    m.unselect()

    home = str(tmp_path)
    rc, maildir = mbsync_rc(haven, home)

    # 1. Pull everything down.
    trace = run_mbsync(rc, home)
    server, local = assert_in_sync(m, maildir, trace)
    # A new user's mail directory comes with the special-use mailboxes.
    defaults = ["Archive", "Drafts", "Junk", "Sent", "Trash"]
    assert sorted(server) == sorted(defaults + ["INBOX", "Work/Archive", "Work/Projects"])
    assert sum(len(v[1]) for v in server.values()) == 7
    assert sorted(set(server["INBOX"][1][u][1] for u in inbox_uids)) == sorted(d for _, d in msgs[0:3])

    # 2. Local changes: new messages (one with mbox-sensitive "From " lines
    # and 8-bit text), a flag change, a deletion, new folders.
    new_inbox = [
        ("1700000001.101_1.client", b"From: Local <local@example.org>\nTo: alice@example.org\n"
         b"Subject: written locally\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"
         b"Message-ID: <local-1@example.org>\n\nFrom the local side, hello.\n"
         b">From an escaped line\n\nFrom  two spaces\nCaf\xc3\xa9 \xe2\x82\xac\n.\nend\n"),
        ("1700000002.102_1.client", b"From: Local <local@example.org>\nSubject: second local\n"
         b"Message-ID: <local-2@example.org>\n\nshort\n"),
    ]
    for name, data in new_inbox:
        write_maildir_message(os.path.join(maildir, "INBOX"), name, data)
    flagged_uid, deleted_uid = inbox_uids[0], inbox_uids[1]
    _, _, path = local["INBOX"][flagged_uid]
    base = os.path.basename(path).partition(":2,")[0]
    os.rename(path, os.path.join(maildir, "INBOX", "cur", base + ":2,FS"))
    os.unlink(local["INBOX"][deleted_uid][2])
    new_folders = {
        "Personal": ("1700000003.103_1.client", b"From: me@example.org\nSubject: personal\n\n"
                     b"in a folder made locally\n"),
        "Work/Ideas": ("1700000004.104_1.client", b"From: me@example.org\nSubject: idea\n\n"
                       b"in a new folder beside Work/Projects\n"),
    }
    for box, (name, data) in new_folders.items():
        write_maildir_message(os.path.join(maildir, box), name, data)

    trace = run_mbsync(rc, home)
    server, local = assert_in_sync(m, maildir, trace)
    assert sorted(server) == sorted(defaults + ["INBOX", "Personal", "Work/Archive", "Work/Ideas",
                                                "Work/Projects"]), trace[-20000:]
    inbox = server["INBOX"][1]
    assert deleted_uid not in inbox, trace[-20000:]
    assert inbox[flagged_uid][0] == {"\\Seen", "\\Flagged"}, trace[-20000:]
    assert inbox[inbox_uids[2]][0] == {"\\Flagged"}
    for uid in inbox_uids[2:]:
        assert inbox[uid][1] == msgs[2][1]
    # The new messages are on the server as the local bytes with CRLF
    # (plus mbsync's X-TUID header line), under the UIDs mbsync recorded.
    uploads = [(inbox, name, data) for name, data in new_inbox]
    uploads += [(server[box][1], name, data) for box, (name, data) in new_folders.items()]
    for msgs_on_server, name, data in uploads:
        paired = [k for k, v in local_by_name(local).items() if k.startswith(name + ",U=")]
        assert len(paired) == 1, (name, trace[-20000:])
        uid = int(re.search(r",U=(\d+)", paired[0]).group(1))
        assert strip_tuid(msgs_on_server[uid][1], b"\r\n") == data.replace(b"\n", b"\r\n"), name
    assert len(inbox) == 4

    # 3. Nothing changed on either side: a third run is a no-op.
    before_server = server_tree(m)
    before_local = snapshot_files(maildir)
    trace = run_mbsync(rc, home)
    done = MUTATING.findall(trace)
    assert not done, "third mbsync run changed the server: %s\n%s" % (done, trace[-20000:])
    assert server_tree(m) == before_server, trace[-20000:]
    assert snapshot_files(maildir) == before_local, trace[-20000:]
    m.logout()


def local_by_name(local):
    return {os.path.basename(p).partition(":2,")[0]: (f, d)
            for msgs in local.values() for f, d, p in msgs.values()}


def snapshot_files(root):
    """Every message file's path and bytes (mbsync's state files aside)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if not fn.startswith(".mbsyncstate"):
                with open(os.path.join(dirpath, fn), "rb") as f:
                    out[os.path.relpath(os.path.join(dirpath, fn), root)] = f.read()
    return out


# --- mutt through tmux -------------------------------------------------

class Tmux:
    """A detached tmux server of our own (its own socket) running one
    command in a 200x50 window."""

    def __init__(self, command, cwd, env):
        self.dir = tempfile.mkdtemp(prefix="haven-tmux-")
        self.sock = os.path.join(self.dir, "sock")
        self.env = env
        self.tmux("new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "-c", cwd, command)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock] + list(args), capture_output=True,
                              timeout=20, check=True, env=self.env).stdout.decode(errors="replace")

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def wait(self, pred, what, timeout=30, diag=lambda: ""):
        deadline = time.time() + timeout
        while True:
            s = self.screen()
            if pred(s):
                return s
            if time.time() > deadline:
                raise AssertionError("timed out waiting for %s; screen:\n%s\n%s" % (what, s, diag()))
            time.sleep(0.1)

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=20,
                       env=self.env)
        shutil.rmtree(self.dir, ignore_errors=True)


def index_line(screen, n):
    mo = re.search(r"(?m)^[ >-]*%d (.*)$" % n, screen)
    return mo.group(1) if mo else ""


def test_mutt_read_delete_sync(haven, tmp_path):
    need("mutt")
    need("tmux")
    msgs = corpus("simple-multipart.eml", "rfc2060.txt", "simple-embedded-message.eml")
    m = haven.login("alice")
    uids = append_all(m, "INBOX", msgs)
    m.logout()
    home = str(tmp_path)
    rc = os.path.join(home, "muttrc")
    with open(rc, "w") as f:
        f.write("""set folder="imap://alice@127.0.0.1:%d/"
set spoolfile="+INBOX"
set imap_user="alice"
set imap_pass="pw-alice"
set ssl_starttls=yes
set ssl_force_tls=yes
set ssl_ca_certificates_file="%s"
set certificate_file="%s/certificates"
set header_cache=""
set message_cachedir=""
set imap_check_subscribed=no
set imap_passive=yes
set confirmappend=no
set delete=yes
set quit=yes
set move=no
set mark_old=no
set resolve=yes
set pager_stop=yes
set wait_key=no
set beep=no
set sort=mailbox-order
set record=""
set postponed=""
set mbox="+INBOX"
set timeout=5
set mail_check=5
set charset="utf-8"
""" % (haven.port, haven.cert, home))
    env = dict(os.environ, HOME=home, TERM="screen")
    env.pop("TMUX", None)
    debug = os.path.join(home, ".muttdebug0")

    def diag():
        try:
            with open(debug, errors="replace") as f:
                return "mutt debug log (tail):\n" + f.read()[-8000:]
        except OSError:
            return ""

    t = Tmux("mutt -n -F %s -d 5; echo MUTT-EXITED-$?; sleep 120" % rc, home, env)
    try:
        subjects = [b"this is a simple multipart message", b"Sample message structure",
                    b"test of simple embedded message"]
        t.wait(lambda s: all(x.decode() in s for x in subjects) and "Msgs:3" in s,
               "the index with 3 messages", diag=diag)
        index = lambda s: "u:Undel" in s and "PrevPg" not in s
        # Open message 1, read its body, back to the index, delete it.
        t.keys("Enter")
        t.wait(lambda s: "PrevPg" in s and "This is the message body." in s,
               "the pager showing message 1", diag=diag)
        t.keys("q")
        t.wait(index, "the index again", diag=diag)
        t.keys("d")
        t.wait(lambda s: index(s) and "D" in index_line(s, 1)[:6], "message 1 marked D",
               diag=diag)
        # The cursor moved on to message 2: open it too, then back.
        t.keys("Enter")
        t.wait(lambda s: "PrevPg" in s and "This part specifier should be: 1" in s,
               "the pager showing message 2", diag=diag)
        t.keys("q")
        t.wait(index, "the index again", diag=diag)
        # Sync: the deletion is expunged, the read flag stored.
        t.keys("$")
        t.wait(lambda s: index(s) and "Msgs:2" in s and subjects[0].decode() not in s,
               "the index after sync with 2 messages", diag=diag)
        t.keys("q")
        t.wait(lambda s: "MUTT-EXITED-0" in s, "mutt to exit", diag=diag)
    finally:
        t.close()

    m = haven.login("alice")
    typ, data = m.select("INBOX", readonly=True)
    assert int(data[0]) == 2
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    got = {int(FETCH_UID.search(meta).group(1)): (FETCH_FLAGS.search(meta).group(1), body)
           for meta, body in fetch_items(data)}
    assert sorted(got) == uids[1:]
    assert b"\\Seen" in got[uids[1]][0].split()
    assert b"\\Seen" not in got[uids[2]][0].split()
    assert got[uids[1]][1] == msgs[1][1] and got[uids[2]][1] == msgs[2][1]
    m.logout()


# --- curl ----------------------------------------------------------------

def curl(h, url, *args, data_ok=True):
    cmd = ["curl", "-sS", "-v", "--max-time", "30", "--ssl-reqd", "--cacert", h.cert,
           "-u", "alice:pw-alice"] + list(args) + [url]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    trace = p.stderr.decode(errors="replace")
    assert p.returncode == 0, "curl exited %d: %s\n%s" % (p.returncode, " ".join(cmd), trace)
    return p.stdout, trace


def test_curl_fetch_list_status_upload(haven, tmp_path):
    need("curl")
    msgs = corpus("bounce.txt", "japanese.txt", "rfc2060.txt")
    m = haven.login("alice")
    uids = append_all(m, "INBOX", msgs)
    m.create("Work/Projects")
    base = "imap://127.0.0.1:%d/" % haven.port

    # Fetch by UID over STARTTLS: the exact appended bytes.
    for uid, (name, data) in zip(uids, msgs):
        out, trace = curl(haven, base + "INBOX;UID=%d" % uid)
        assert out == data, "%s via UID %d:\n%s" % (name, uid, trace)
    # And by sequence number over implicit TLS.
    out, trace = curl(haven, "imaps://127.0.0.1:%d/INBOX;MAILINDEX=2" % haven.tls_port)
    assert out == msgs[1][1], trace

    # LIST.
    out, trace = curl(haven, base)
    lines = out.decode().splitlines()
    assert any(re.match(r'\* LIST \([^)]*\) "/" "?INBOX"?$', l) for l in lines), trace
    assert any(l.endswith('"Work/Projects"') or l.endswith(" Work/Projects") for l in lines), trace

    # A custom command.
    out, trace = curl(haven, base, "-X", "STATUS INBOX (MESSAGES UIDNEXT)")
    mo = re.search(rb'\* STATUS "?INBOX"? \(MESSAGES (\d+) UIDNEXT (\d+)\)', out)
    assert mo, out + trace.encode()
    assert int(mo.group(1)) == 3 and int(mo.group(2)) > uids[-1]

    # Upload: APPEND of a file, which must arrive byte for byte.
    upload = (b"From: curl <curl@example.org>\r\nTo: alice@example.org\r\n"
              b"Subject: uploaded with curl\r\nMessage-ID: <curl-1@example.org>\r\n\r\n"
              b"From here on, curl.\r\nCaf\xc3\xa9\r\n")
    path = tmp_path / "upload.eml"
    path.write_bytes(upload)
    out, trace = curl(haven, base + "INBOX", "-T", str(path))
    typ, data = m.select("INBOX", readonly=True)
    assert int(data[0]) == 4, trace
    typ, data = m.fetch("4", "(FLAGS BODY.PEEK[])")
    items = fetch_items(data)
    assert items[0][1] == upload, trace
    assert b"\\Seen" in items[0][0]  # curl APPENDs with (\Seen)
    m.logout()

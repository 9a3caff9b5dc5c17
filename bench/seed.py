"""Seeding a mailbox through IMAP APPEND, for stores that parse a message
at delivery (the PostgreSQL store keeps its structure and search text, so
its mail cannot be written as a file beside the server the way the mbox
and maildir columns are).

One session per user, APPENDs pipelined with non-synchronizing literals
(LITERAL+, RFC 7888) up to WINDOW in flight: the server still runs them one
after another in the order sent, so UIDs follow the order of the messages
(bigbox relies on UID = position). Every APPEND must be answered OK, else
the seeding stops with the server's answer."""
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

WINDOW = 32


class SeedError(Exception):
    pass


def _readline(f):
    line = f.readline()
    if not line:
        raise SeedError("connection closed")
    return line


def _command(sock, f, tag, text):
    sock.sendall(b"%s %s\r\n" % (tag, text))
    while True:
        line = _readline(f)
        if line.startswith(tag + b" "):
            if not line[len(tag) + 1:].startswith(b"OK"):
                raise SeedError(line.decode(errors="replace").strip())
            return


def _quote(s):
    return b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def append_all(port, user, password, items, mailbox="INBOX"):
    """APPEND every (flags, date, message bytes) of items, in order, to
    mailbox as user; returns how many."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    f = sock.makefile("rb")
    try:
        _readline(f)
        _command(sock, f, b"L", b"LOGIN %s %s" % (_quote(user), _quote(password)))
        n = _pipeline(sock, f, items, mailbox)
        _command(sock, f, b"Z", b"LOGOUT")
        return n
    finally:
        f.close()
        sock.close()


def _pipeline(sock, f, items, mailbox):
    """Send APPENDs while at most WINDOW are unanswered; a reader thread
    would gain nothing, the server answers in order."""
    sent = answered = 0
    box = _quote(mailbox)
    for flags, date, msg in items:
        while sent - answered >= WINDOW:
            answered += _read_tagged(f)
        sent += 1
        sock.sendall(b"S%d APPEND %s (%s) %s {%d+}\r\n" % (
            sent, box, flags.encode(), _quote(date), len(msg)) + msg + b"\r\n")
    while answered < sent:
        answered += _read_tagged(f)
    return sent


def _read_tagged(f):
    line = _readline(f)
    if line.startswith(b"*"):
        return 0
    tag, _, rest = line.partition(b" ")
    if tag.startswith(b"S") and rest.startswith(b"OK"):
        return 1
    raise SeedError(line.decode(errors="replace").strip())


def seed_users(port, users, items_of, parallel=8):
    """append_all for every (user, password) of users at once (parallel
    sessions of different users); items_of(user) gives the messages."""
    errors = []
    lock = threading.Lock()

    def one(up):
        try:
            return append_all(port, up[0], up[1], items_of(up[0]))
        except (OSError, SeedError) as e:
            with lock:
                errors.append("%s: %s" % (up[0], e))
            return 0

    with ThreadPoolExecutor(max_workers=parallel) as ex:
        total = sum(ex.map(one, users))
    if errors:
        raise SeedError("; ".join(errors[:5]))
    return total

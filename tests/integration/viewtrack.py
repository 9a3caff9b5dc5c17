"""A client that checks what the server promises it about the selected
mailbox, response by response (RFC 9051 7.4-7.5, RFC 3501 2.3.2 / 7.3):

- the view: EXISTS never shrinks it, EXPUNGE and FETCH name only sequence
  numbers the client has (no FETCH for a message whose EXPUNGE it has not
  been told, none past the last EXISTS), and a message keeps its UID;
- keywords: every keyword in a FETCH FLAGS was named by an untagged FLAGS
  response first (and by PERMANENTFLAGS, in a read-write session);
- \\Recent: a message is \\Recent in at most one session (a registry shared
  by the sessions of a test says who saw it first).

Violations are collected in .violations (and in the registry, for a test
with threads) rather than raised, so a test reports all of them."""
import re
import threading

from imapresp import Atom, fetch_items
from rfc9051_common import Session


class Registry:
    """Which session saw which message as \\Recent, across sessions."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner = {}
        self.violations = []

    def recent(self, key, who):
        with self.lock:
            first = self.owner.setdefault(key, who)
            if first is not who:
                self.violations.append("%s: \\Recent in %s and in %s" % (key, first.name, who.name))

    def note(self, text):
        with self.lock:
            self.violations.append(text)


_NUM = re.compile(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b")
_FLAGS = re.compile(rb"\* FLAGS \(([^)]*)\)\r\n")
_PERM = re.compile(rb"\* OK \[PERMANENTFLAGS \(([^)]*)\)\]")
_UIDVALIDITY = re.compile(rb"\* OK \[UIDVALIDITY (\d+)\]")
_LIST_OR_STATUS = re.compile(rb"\* (LIST|LSUB|STATUS|SEARCH|ESEARCH|ENABLED|CAPABILITY|ID|BYE)\b")


def keywords_of(flags):
    return {bytes(f).lower() for f in flags if isinstance(f, Atom) and not f.startswith(b"\\")}


class TrackedSession(Session):
    def __init__(self, haven, registry=None, name=None, **kw):
        self.registry = registry or Registry()
        self.name = name or "session"
        self.view = None          # UIDs by sequence number (None: not yet known)
        self.box = None
        self.uidvalidity = None
        self.readonly = False
        self.flags = set()        # keywords announced by FLAGS (lower case)
        self.permanent = set()    # ... and by PERMANENTFLAGS
        self.violations = []
        super().__init__(haven, **kw)

    def violation(self, text):
        text = "%s: %s" % (self.name, text)
        self.violations.append(text)
        self.registry.note(text)

    def response(self):
        r = super().response()
        if r.startswith(b"* "):
            self.observe(r)
        return r

    def select(self, box=b"INBOX", examine=False):
        """SELECT (or EXAMINE) box; the view starts over."""
        self.view = []
        self.box = box
        self.flags = set()
        self.permanent = set()
        self.readonly = examine
        out = self.cmd((b"EXAMINE " if examine else b"SELECT ") + box)
        assert re.match(rb"\w+ OK ", out[-1]), out
        if self.view is None:
            self.view = []
        return out

    def learn_uids(self):
        """Fill in the UIDs of the view (FETCH 1:* UID)."""
        if self.view:
            return self.ok(b"FETCH 1:* (UID)")
        return []

    # ---- checks ----------------------------------------------------------
    def observe(self, r):
        m = _FLAGS.match(r)
        if m:
            self.flags = {f.lower() for f in m.group(1).split() if not f.startswith(b"\\")}
            return
        m = _PERM.match(r)
        if m:
            self.permanent = {f.lower() for f in m.group(1).split()
                              if not f.startswith(b"\\")}
            return
        m = _UIDVALIDITY.match(r)
        if m:
            self.uidvalidity = int(m.group(1))
            return
        m = _NUM.match(r)
        if m is None or self.view is None:
            return
        n, what = int(m.group(1)), m.group(2)
        if what == b"EXISTS":
            if n < len(self.view):
                self.violation("EXISTS %d shrinks a view of %d without EXPUNGE" % (n, len(self.view)))
                del self.view[n:]
            self.view.extend([None] * (n - len(self.view)))
        elif what == b"EXPUNGE":
            if not 1 <= n <= len(self.view):
                self.violation("EXPUNGE %d in a view of %d" % (n, len(self.view)))
            else:
                del self.view[n - 1]
        elif what == b"FETCH":
            self.observe_fetch(n, r)

    def observe_fetch(self, seq, r):
        if not 1 <= seq <= len(self.view):
            self.violation("FETCH for %d in a view of %d: %r" % (seq, len(self.view), r[:120]))
            return
        items = fetch_items(r).get(seq, {})
        uid = items.get(b"UID")
        if uid is not None:
            uid = int(uid)
            known = self.view[seq - 1]
            if known is not None and known != uid:
                self.violation("message %d was UID %d, now UID %d" % (seq, known, uid))
            self.view[seq - 1] = uid
        uid = self.view[seq - 1]
        flags = items.get(b"FLAGS")
        if flags is None:
            return
        unknown = keywords_of(flags) - self.flags
        if unknown:
            self.violation("keywords %s in FETCH before FLAGS named them" % sorted(unknown))
        unperm = keywords_of(flags) - self.permanent
        if unperm and not self.readonly:
            self.violation("keywords %s in FETCH before PERMANENTFLAGS named them"
                           % sorted(unperm))
        # A read-only session may see \Recent that others see too (RFC 3501
        # 2.3.2); the registry is about the sessions that claim.
        if any(bytes(f).lower() == b"\\recent" for f in flags) and uid is not None \
                and not self.readonly:
            self.registry.recent((self.box, self.uidvalidity, uid), self)

"""Mailbox names and the mailbox list: modified UTF-7 for IMAP4rev1 clients
and UTF-8 after ENABLE (RFC 3501 5.1.3, RFC 6855, RFC 9051 5.1), names no
mailbox may have, LIST-EXTENDED (the RFC 5258 section 5 examples that apply
to a single-namespace server), LIST-STATUS (RFC 5819), SPECIAL-USE and
CREATE-SPECIAL-USE (RFC 6154), STATUS DELETED and SIZE, the default
special-use mailboxes of a new user, and LSUB."""
import os
import re
import time

from conftest import as_mbox_list, read_until_tagged
from rfc9051_common import Session as RawSession

NI = "\\NoInferiors"   # every mbox mailbox: a file, which cannot have children
DEFAULTS = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash", "Junk": "\\Junk",
            "Archive": "\\Archive"}

LIST_RE = re.compile(r'^\* (LIST|LSUB) \(([^)]*)\) (?:"/"|NIL) ("(?:[^"\\]|\\.)*"|[^ ]+)(?: (.*))?$')
STATUS_RE = re.compile(r'^\* STATUS ("(?:[^"\\]|\\.)*"|[^ ]+) \((.*)\)$')


def unquote(s):
    if s.startswith('"'):
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


class Session:
    """A raw IMAP session: exact lines, any bytes."""

    def __init__(self, haven, user="alice"):
        self.haven = haven
        self.sock, self.f = haven.raw()
        self.n = 0
        _, tagged = self.cmd("LOGIN %s %s" % (user, haven.users[user]))
        assert tagged.startswith("OK"), tagged

    def cmd(self, text):
        """Untagged lines (str, CRLF stripped) and the tagged line."""
        self.n += 1
        tag = "t%d" % self.n
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(tag.encode() + b" " + text + b"\r\n")
        lines = read_until_tagged(self.f, tag.encode())
        if self.haven.backend != "mbox":
            lines = [as_mbox_list(l) for l in lines]
        out = [l.decode("utf-8").rstrip("\r\n") for l in lines]
        return out[:-1], out[-1][len(tag) + 1:]

    def ok(self, text):
        untagged, tagged = self.cmd(text)
        assert tagged.startswith("OK"), (text, untagged, tagged)
        return untagged

    def list(self, text):
        """{name: (attrs set, extended data or None)} for LIST/LSUB, and
        checks each name comes once."""
        out = {}
        for line in self.ok(text):
            m = LIST_RE.match(line)
            if not m:
                continue
            name = unquote(m.group(3))
            assert name not in out, ("listed twice", name, text)
            out[name] = (set(m.group(2).split()), m.group(4))
        return out

    def close(self):
        self.cmd("LOGOUT")
        self.sock.close()


def append(s, box, body):
    """APPEND with a non-synchronizing literal; box may carry flags."""
    return s.ok(b"APPEND " + box.encode() + b" {%d+}\r\n" % len(body) + body)


def mail_dir(haven, user):
    return os.path.join(haven.home_root, user, "mail")


def clear_defaults(s):
    for name in DEFAULTS:
        s.ok("DELETE %s" % name)
        s.ok("UNSUBSCRIBE %s" % name)


def attrs(listing):
    return {n: a for n, (a, _) in listing.items()}


# ---- capabilities, ENABLE ---------------------------------------------------

def test_capabilities_and_enable(haven):
    s = Session(haven)
    caps = s.ok("CAPABILITY")[0].split()
    for c in ("LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "STATUS=SIZE",
              "UTF8=ACCEPT", "CHILDREN", "ENABLE"):
        assert c in caps, caps
    assert "IMAP4rev2" in caps and "CONDSTORE" in caps and "QRESYNC" in caps
    assert s.ok("ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT"]
    # only what this command turned on
    assert s.ok("ENABLE UTF8=ACCEPT X-UNKNOWN") == ["* ENABLED"]
    assert s.ok("ENABLE imap4rev2 UTF8=ACCEPT IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    s.close()


# ---- names ------------------------------------------------------------------

def test_mutf7_names_for_imap4rev1(haven):
    s = Session(haven)
    s.ok('CREATE "Entw&APw-rfe"')
    # stored as UTF-8
    assert "Entwürfe" in haven.stored_names("alice")
    listing = s.list('LIST "" "Entw*"')
    assert list(listing) == ["Entw&APw-rfe"]
    s.ok('SUBSCRIBE "Entw&APw-rfe"')
    assert "Entw&APw-rfe" in s.list('LSUB "" "*"')
    append(s, '"Entw&APw-rfe"', b"Subject: x\r\n\r\nbody\r\n")
    untagged = s.ok('STATUS "Entw&APw-rfe" (MESSAGES)')
    assert untagged == ['* STATUS "Entw&APw-rfe" (MESSAGES 1)']
    untagged = s.ok('SELECT "Entw&APw-rfe"')
    assert "* 1 EXISTS" in untagged
    s.ok("UNSELECT")
    # a pattern can hold an encoded part; '&' itself is "&-"
    assert list(s.list('LIST "" "Entw&APw-*"')) == ["Entw&APw-rfe"]
    s.ok('CREATE "AT&-T"')
    assert "AT&T" in haven.stored_names("alice")
    assert list(s.list('LIST "" "AT*"')) == ["AT&-T"]
    # RFC 3501's example, across a hierarchy, by RENAME
    s.ok('CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"')
    assert "~peter/mail/台北/日本語" in haven.stored_names("alice")
    s.ok('RENAME "~peter/mail/&U,BTFw-/&ZeVnLIqe-" "&ZeVnLIqe-/Sub"')
    assert "日本語/Sub" in haven.stored_names("alice")
    listing = s.list('LIST "" "*"')
    assert "&ZeVnLIqe-/Sub" in listing and "&ZeVnLIqe-" in listing
    assert "~peter/mail/&U,BTFw-" in listing
    # an astral-plane character (a surrogate pair in UTF-16)
    s.ok('CREATE "&2D3eAA-"')
    assert "\U0001F600" in haven.stored_names("alice")
    assert "&2D3eAA-" in s.list('LIST "" "%"')
    s.close()


def test_utf8_after_enable(haven):
    s = Session(haven)
    s.ok('CREATE "Entw&APw-rfe"')
    s.ok("ENABLE UTF8=ACCEPT")
    listing = s.list('LIST "" "*"')
    assert "Entwürfe" in listing and "Entw&APw-rfe" not in listing
    # quoted UTF-8 in both directions
    s.ok('CREATE "Größe/Übersicht"'.encode())
    assert "Größe" in haven.stored_names("alice")
    untagged = s.ok('STATUS "Größe/Übersicht" (MESSAGES)'.encode())
    assert untagged == ['* STATUS "Größe/Übersicht" (MESSAGES 0)']
    # '&' is just a character now
    s.ok('CREATE "Entw&APw-rfe"')
    assert "Entw&APw-rfe" in haven.stored_names("alice")
    # invalid UTF-8 is a BAD (RFC 6855)
    _, tagged = s.cmd(b'CREATE "bad\xff\xfe"')
    assert tagged.startswith("BAD") and "UTF-8" in tagged
    s.close()
    # an IMAP4rev1 session sees the same mailboxes in modified UTF-7
    r = Session(haven)
    listing = r.list('LIST "" "*"')
    assert "Gr&APYA3w-e/&ANw-bersicht" in listing
    assert "Entw&-APw-rfe" in listing and "Entw&APw-rfe" in listing
    r.close()
    # IMAP4rev2 also means UTF-8 names, and SELECT gives a LIST
    v2 = Session(haven)
    v2.ok("ENABLE IMAP4rev2")
    assert "Entwürfe" in v2.list('LIST "" "Entw*"')
    untagged = v2.ok('SELECT "Entwürfe"'.encode())
    assert '* LIST (\\NoInferiors \\HasNoChildren) "/" "Entwürfe"' in untagged
    # LSUB is deprecated in IMAP4rev2 but still works
    v2.ok('SUBSCRIBE "Entwürfe"'.encode())
    assert "Entwürfe" in v2.list('LSUB "" "*"')
    v2.close()


def test_invalid_mutf7_refused(haven):
    s = Session(haven)
    bad = ['"&AGE-"',             # printable ASCII must stand for itself
           '"&U,BTFw"',           # shift not ended
           '"&AOR-"',             # leftover bits
           '"&2D0-"',             # lone surrogate
           '"a&*-"']              # outside modified BASE64
    for name in bad:
        for cmd in ("CREATE %s", "SELECT %s", "DELETE %s", "SUBSCRIBE %s",
                    "STATUS %s (MESSAGES)", "RENAME INBOX %s", "APPEND %s {3+}\r\nx\r\n"):
            _, tagged = s.cmd(cmd % name)
            assert tagged.startswith("BAD") and "modified UTF-7" in tagged, (cmd % name, tagged)
    # 8-bit from an IMAP4rev1 client: told what to do instead
    _, tagged = s.cmd('CREATE "Entwürfe"'.encode())
    assert tagged.startswith("BAD") and "UTF8=ACCEPT" in tagged, tagged
    # COPY's destination too (no details there, but refused)
    s.ok("SELECT INBOX")
    _, tagged = s.cmd('COPY 1:* "&AGE-"')
    assert tagged.startswith("BAD")
    s.ok("UNSELECT")
    # LIST ignores a pattern it cannot accept (RFC 9051), a bad reference is BAD
    assert s.list('LIST "" "&AGE-*"') == {}
    assert list(s.list('LIST "" ("&AGE-*" "INBOX")')) == ["INBOX"]
    _, tagged = s.cmd('LIST "&AGE-" "*"')
    assert tagged.startswith("BAD")
    assert not any(n.startswith("&") or n == "a" for n in haven.stored_names("alice"))
    s.close()


def test_names_no_mailbox_may_have(haven):
    s = Session(haven)
    for name in ('"a\x01b"', '"tab\there"', '"del\x7f"', '"a&AAE-b"',   # C0 controls
                 '"&AIU-"',                                             # U+0085 (C1)
                 '"x&ICg-y"'):                                          # U+2028
        _, tagged = s.cmd("CREATE %s" % name)
        assert tagged.startswith("NO") and "[CANNOT]" in tagged, (name, tagged)
    s.ok("ENABLE UTF8=ACCEPT")
    for name in (b'"a\xc2\x85b"', b'"x\xe2\x80\xa9y"'):
        _, tagged = s.cmd(b"CREATE " + name)
        assert tagged.startswith("NO") and "[CANNOT]" in tagged, (name, tagged)
    for name in ("..", "a/../b", "Work/..", "/etc/passwd", "/abs", "a//b", ".hidden", "x.lock"):
        _, tagged = s.cmd('CREATE "%s"' % name)
        assert tagged.startswith("NO"), (name, tagged)
    if haven.backend == "mbox":
        home = os.path.join(haven.home_root, "alice")
        assert sorted(os.listdir(home)) in (["mail"], ["INBOX", "mail"])
        assert sorted(os.listdir(mail_dir(haven, "alice"))) == sorted(
            [".subscriptions", ".uidvalidity"] + list(DEFAULTS))
    assert haven.stored_names("alice") == set(DEFAULTS)
    s.close()


# ---- default mailboxes ----------------------------------------------------------

def test_default_special_mailboxes_for_a_new_user(haven):
    s = Session(haven, "bob")
    listing = attrs(s.list('LIST "" "*"'))
    for name, use in DEFAULTS.items():
        assert listing[name] == {use, NI, "\\HasNoChildren"}, (name, listing)
        assert name in haven.stored_names("bob")
    # subscribed, so clients that show subscribed folders see them
    assert set(DEFAULTS) <= set(s.list('LSUB "" "*"'))
    # deleted ones stay deleted at the next login
    s.ok("DELETE Junk")
    s.close()
    time.sleep(3)  # worker_idle_timeout = 2: the next login opens the store anew
    s = Session(haven, "bob")
    listing = attrs(s.list('LIST "" "*"'))
    assert "Junk" not in listing and "Trash" in listing
    s.close()


# ---- RFC 5258 section 5 ---------------------------------------------------------

def fruit_tree(s):
    clear_defaults(s)
    for name in ("Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn"):
        s.ok("CREATE %s" % name)
    for name in ("INBOX", "Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli"):
        s.ok("SUBSCRIBE %s" % name)


def test_rfc5258_examples_1_to_6(haven):
    s = Session(haven)
    fruit_tree(s)
    # 1: the whole hierarchy (in mbox a level with children is \Noselect)
    assert attrs(s.list('LIST "" "*"')) == {
        "INBOX": {"\\NoInferiors", "\\HasNoChildren"},
        "Fruit": {"\\Noselect", "\\HasChildren"},
        "Fruit/Apple": {NI, "\\HasNoChildren"}, "Fruit/Banana": {NI, "\\HasNoChildren"},
        "Tofu": {NI, "\\HasNoChildren"},
        "Vegetable": {"\\Noselect", "\\HasChildren"},
        "Vegetable/Broccoli": {NI, "\\HasNoChildren"}, "Vegetable/Corn": {NI, "\\HasNoChildren"},
    }
    # 2 and 5: subscribed names, a deleted one \NonExistent
    subscribed = {
        "INBOX": {"\\NoInferiors", "\\Subscribed"},
        "Fruit/Banana": {NI, "\\Subscribed"},
        "Fruit/Peach": {"\\Subscribed", "\\NonExistent"},
        "Vegetable": {"\\Noselect", "\\Subscribed"},
        "Vegetable/Broccoli": {NI, "\\Subscribed"},
    }
    assert attrs(s.list('LIST (SUBSCRIBED) "" "*"')) == subscribed
    assert attrs(s.list('LIST (REMOTE SUBSCRIBED) "" "*"')) == subscribed
    # 3 and 4: CHILDREN
    top = {"INBOX": {"\\NoInferiors", "\\HasNoChildren"},
           "Fruit": {"\\Noselect", "\\HasChildren"}, "Tofu": {NI, "\\HasNoChildren"},
           "Vegetable": {"\\Noselect", "\\HasChildren"}}
    assert attrs(s.list('LIST () "" "%" RETURN (CHILDREN)')) == top
    assert attrs(s.list('LIST (REMOTE) "" "%" RETURN (CHILDREN)')) == top
    # 6: subscription state of what exists; no Fruit/Peach
    assert attrs(s.list('LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)')) == {
        "INBOX": {"\\NoInferiors", "\\Subscribed"}, "Fruit": {"\\Noselect"},
        "Fruit/Apple": {NI}, "Fruit/Banana": {NI, "\\Subscribed"}, "Tofu": {NI},
        "Vegetable": {"\\Noselect", "\\Subscribed"}, "Vegetable/Broccoli": {NI, "\\Subscribed"},
        "Vegetable/Corn": {NI},
    }
    # no CHILDINFO without RECURSIVEMATCH, no extended data without asking
    assert all(ext is None for _, ext in s.list('LIST (SUBSCRIBED) "" "*"').values())
    s.close()


def test_rfc5258_example_7_multiple_patterns(haven):
    s = Session(haven)
    clear_defaults(s)
    for name in ("Drafts", "Sent/March2004", "Sent/December2003", "Sent/August2004", "Other"):
        s.ok("CREATE %s" % name)
    listing = s.list('LIST "" ("INBOX" "Drafts" "Sent/%")')
    assert sorted(listing) == ["Drafts", "INBOX", "Sent/August2004", "Sent/December2003",
                               "Sent/March2004"]
    # a name matching several patterns comes once; "" is ignored, not special
    listing = s.list('LIST "" ("INBOX" "inbox" "*" "")')
    assert "INBOX" in listing and "Other" in listing and "" not in listing
    # atoms and a reference
    assert sorted(s.list('LIST "Sent/" (% Mar*)')) == ["Sent/August2004", "Sent/December2003",
                                                        "Sent/March2004"]
    s.close()


def test_rfc5258_example_8_childinfo(haven):
    s = Session(haven)
    clear_defaults(s)
    for name in ("Foo/Bar", "Foo/Baz", "Moo"):
        s.ok("CREATE %s" % name)
    assert attrs(s.list('LIST "" "%" RETURN (CHILDREN)')) == {
        "INBOX": {"\\NoInferiors", "\\HasNoChildren"},
        "Foo": {"\\Noselect", "\\HasChildren"}, "Moo": {NI, "\\HasNoChildren"}}
    # A) only Foo/Baz subscribed
    s.ok("SUBSCRIBE Foo/Baz")
    assert s.list('LIST (SUBSCRIBED) "" "*"') == {"Foo/Baz": ({NI, "\\Subscribed"}, None)}
    assert s.list('LIST (SUBSCRIBED) "" "%"') == {}
    assert s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == {
        "Foo": ({"\\Noselect"}, '("CHILDINFO" ("SUBSCRIBED"))')}
    # A1) Foo subscribed too
    s.ok("SUBSCRIBE Foo")
    assert s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == {
        "Foo": ({"\\Noselect", "\\Subscribed"}, '("CHILDINFO" ("SUBSCRIBED"))')}
    # A2) a parent that does not exist
    s.ok("SUBSCRIBE Goo/Baz")
    listing = s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert listing["Goo"] == ({"\\NonExistent"}, '("CHILDINFO" ("SUBSCRIBED"))')
    # B) nothing subscribed: nothing, although Foo has children
    for name in ("Foo/Baz", "Foo", "Goo/Baz"):
        s.ok("UNSUBSCRIBE %s" % name)
    assert s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == {}
    # C) Foo and Moo subscribed: children, but none subscribed
    s.ok("SUBSCRIBE Foo")
    s.ok("SUBSCRIBE Moo")
    assert s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)') == {
        "Foo": ({"\\Noselect", "\\HasChildren", "\\Subscribed"}, None),
        "Moo": ({NI, "\\HasNoChildren", "\\Subscribed"}, None)}
    s.close()


def test_rfc5258_example_9_childinfo_whatever_the_pattern(haven):
    s = Session(haven)
    clear_defaults(s)
    for name in ("foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222",
                 "eps2/mamba"):
        s.ok("CREATE %s" % name)
    for name in ("foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2",
                 "eps2/mamba", "qux2/bar2"):   # qux2/bar2 does not exist here
        s.ok("SUBSCRIBE %s" % name)
    ci = '("CHILDINFO" ("SUBSCRIBED"))'
    assert s.list('LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"') == {
        "foo2": ({"\\Noselect"}, ci),                 # foo2/bar1 does not match
        "foo2/bar2": ({NI, "\\Subscribed"}, None),
        "baz2/bar2": ({NI, "\\Subscribed"}, None),
        "baz2/bar22": ({NI, "\\Subscribed"}, None),
        "baz2/bar222": ({NI, "\\Subscribed"}, None),
        "eps2": ({"\\Noselect", "\\Subscribed"}, ci),
        "qux2/bar2": ({"\\Subscribed", "\\NonExistent"}, None),
    }
    # With "*" every subscribed child is returned itself, so the unsubscribed
    # parents are not (the SHOULD of RFC 5258 3.5; the example also shows
    # the redundant form); eps2 meets the criteria and keeps its CHILDINFO.
    listing = s.list('LIST (RECURSIVEMATCH SUBSCRIBED) "" "*"')
    assert sorted(listing) == ["baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2", "eps2/mamba",
                               "foo2/bar1", "foo2/bar2", "qux2/bar2"]
    assert listing["eps2"][1] == ci
    s.close()


def test_rfc5258_example_10_childinfo_without_children(haven):
    s = Session(haven)
    clear_defaults(s)
    s.ok("CREATE foo")
    s.ok("SUBSCRIBE foo/bar")   # in mbox foo cannot have children: never exists
    assert s.list('LIST "" ("foo" "foo/*")') == {"foo": ({NI}, None)}
    assert s.list('LIST (SUBSCRIBED) "" "foo/*"') == {
        "foo/bar": ({"\\Subscribed", "\\NonExistent"}, None)}
    assert s.list('LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)') == {
        "foo": ({NI, "\\HasNoChildren"}, '("CHILDINFO" ("SUBSCRIBED"))')}
    s.close()


def test_list_option_errors_and_basics(haven):
    s = Session(haven)
    for cmd in ('LIST (RECURSIVEMATCH) "" "*"', 'LIST (REMOTE RECURSIVEMATCH) "" "*"',
                'LIST (SPECIAL-USE RECURSIVEMATCH) "" "*"', 'LIST (BOGUS) "" "*"',
                'LIST "" "*" RETURN (BOGUS)', 'LIST "" "*" RETURN (STATUS (BOGUS))',
                'LIST "" "*" RETURN (STATUS)', 'LIST "" "*" RETURN', 'LIST "" ()',
                'LIST "" "*" EXTRA (X)', 'LSUB "" ("*")', 'LIST ""'):
        _, tagged = s.cmd(cmd)
        assert tagged.startswith("BAD"), (cmd, tagged)
    # options given twice act once
    s.ok("SUBSCRIBE INBOX")
    assert s.list('LIST (SUBSCRIBED SUBSCRIBED REMOTE) "" "INBOX" RETURN (CHILDREN CHILDREN)') == {
        "INBOX": ({"\\NoInferiors", "\\HasNoChildren", "\\Subscribed"}, None)}
    # basic syntax: "" asks for the delimiter
    assert s.ok('LIST "" ""') == ['* LIST (\\Noselect) "/" ""']
    # extended syntax: "" is no pattern at all
    assert s.ok('LIST () "" ""') == []
    # plain LIST never shows \Subscribed, shows children and special use
    s.ok("SUBSCRIBE INBOX")
    listing = attrs(s.list('LIST "" "*"'))
    assert listing["INBOX"] == {"\\NoInferiors", "\\HasNoChildren"}
    assert listing["Sent"] == {"\\Sent", NI, "\\HasNoChildren"}
    # an extended LIST shows them only when asked
    assert attrs(s.list('LIST () "" "Sent"')) == {"Sent": {NI}}
    # CREATE with a trailing delimiter makes a level of hierarchy
    s.ok('CREATE "Proj/"')
    assert attrs(s.list('LIST "" "Proj"')) == {"Proj": {"\\Noselect", "\\HasNoChildren"}}
    s.ok('CREATE "Proj/a"')
    assert attrs(s.list('LIST "" "Proj*"'))["Proj"] == {"\\Noselect", "\\HasChildren"}
    s.close()


def test_lsub_shows_unsubscribed_parents_noselect(haven):
    s = Session(haven)
    s.ok("CREATE Work/Projects")
    s.ok("CREATE Work/Old")
    s.ok("SUBSCRIBE Work/Projects")
    assert s.list('LSUB "" "Work/*"') == {"Work/Projects": (set(), None)}
    # RFC 3501 6.3.9: "%" gives the unsubscribed parent, \Noselect
    listing = s.list('LSUB "" "W%"')
    assert listing == {"Work": ({"\\Noselect"}, None)}
    s.ok("SUBSCRIBE Gone")
    assert s.list('LSUB "" "Gone"') == {"Gone": ({"\\Noselect"}, None)}
    s.close()


# ---- LIST-STATUS, STATUS ----------------------------------------------------------

def test_list_status(haven):
    s = Session(haven)
    s.ok('CREATE "Box/A&APw-"')
    s.ok("SUBSCRIBE Missing")
    for i in range(3):
        append(s, '"Box/A&APw-" (%s)' % ("\\Seen" if i == 0 else ""),
               b"Subject: %d\r\n\r\nbody\r\n" % i)
    untagged = s.ok('LIST (SUBSCRIBED REMOTE) "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
    # a nonexistent name gets no STATUS
    assert not any("Missing" in l for l in untagged if l.startswith("* STATUS"))
    untagged = s.ok('LIST "" "*" RETURN (CHILDREN STATUS (MESSAGES UNSEEN SIZE DELETED))')
    seen = {}
    for i, line in enumerate(untagged):
        m = LIST_RE.match(line)
        if not m:
            continue
        name, flags = unquote(m.group(3)), m.group(2).split()
        nxt = untagged[i + 1] if i + 1 < len(untagged) else ""
        if "\\Noselect" in flags or "\\NonExistent" in flags:
            assert not nxt.startswith("* STATUS"), (line, nxt)
        else:
            st = STATUS_RE.match(nxt)
            assert st and unquote(st.group(1)) == name, (line, nxt)
            seen[name] = st.group(2)
    assert "Box" not in seen and seen["INBOX"].startswith("MESSAGES 0 UNSEEN 0 DELETED 0 SIZE 0")
    assert re.match(r"MESSAGES 3 UNSEEN 2 DELETED 0 SIZE \d+$", seen["Box/A&APw-"]), seen
    assert set(DEFAULTS) <= set(seen)
    s.close()


def test_status_deleted_and_size(haven):
    s = Session(haven)
    bodies = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond body\r\n",
              b"Subject: three\r\n\r\n" + b"x" * 1000 + b"\r\n"]
    for b in bodies:
        append(s, "Trash", b)
    s.ok("SELECT Trash")
    s.ok("STORE 1:2 +FLAGS (\\Deleted)")
    s.ok("STORE 3 +FLAGS (\\Seen)")
    sizes = [int(x) for x in re.findall(r"RFC822\.SIZE (\d+)", "\n".join(s.ok("FETCH 1:* RFC822.SIZE")))]
    assert sizes == [len(b) for b in bodies]
    # works on the selected mailbox too
    untagged = s.ok("STATUS Trash (DELETED SIZE MESSAGES UNSEEN UIDNEXT)")
    assert untagged == ['* STATUS "Trash" (MESSAGES 3 UIDNEXT 4 UNSEEN 2 DELETED 2 SIZE %d)'
                        % sum(sizes)], untagged
    s.ok("UNSELECT")
    assert s.ok("STATUS Trash (SIZE)") == ['* STATUS "Trash" (SIZE %d)' % sum(sizes)]
    assert s.ok("STATUS Trash (DELETED)") == ['* STATUS "Trash" (DELETED 2)']
    assert s.ok("STATUS Sent (DELETED SIZE)") == ['* STATUS "Sent" (DELETED 0 SIZE 0)']
    # HIGHESTMODSEQ (RFC 7162) too; tests/integration/test_condstore.py
    assert re.match(r'\* STATUS "Trash" \(MESSAGES 3 HIGHESTMODSEQ \d+\)$',
                    s.ok("STATUS Trash (MESSAGES HIGHESTMODSEQ)")[-1])
    for bad in ("STATUS Trash (HIGHESTMODSEQ X)", "STATUS Trash ()", "STATUS Trash (BOGUS)"):
        _, tagged = s.cmd(bad)
        assert tagged.startswith("BAD"), (bad, tagged)
    _, tagged = s.cmd("STATUS Nowhere (DELETED)")
    assert tagged.startswith("NO") and "[NONEXISTENT]" in tagged
    s.close()


# ---- SPECIAL-USE ---------------------------------------------------------------------

def test_special_use_list_options(haven):
    s = Session(haven)
    s.ok("CREATE Work/Projects")
    s.ok("CREATE Plain")
    want = {n: {u, NI} for n, u in DEFAULTS.items()}
    assert attrs(s.list('LIST (SPECIAL-USE) "" "*"')) == want
    listing = attrs(s.list('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert listing["Plain"] == {NI} and listing["Work/Projects"] == {NI}
    assert listing["Sent"] == {"\\Sent", NI}
    assert attrs(s.list('LIST (SPECIAL-USE) "" "%" RETURN (CHILDREN SUBSCRIBED)'))["Drafts"] == {
        "\\Drafts", NI, "\\HasNoChildren", "\\Subscribed"}
    assert attrs(s.list('LIST (SPECIAL-USE SUBSCRIBED) "" "*"')) == {
        n: {u, NI, "\\Subscribed"} for n, u in DEFAULTS.items()}
    s.close()


def test_create_with_use_persists(haven):
    s = Session(haven)
    s.ok("CREATE Saved (USE (\\Archive))")
    s.ok("CREATE MySpecial (USE (\\Drafts \\Sent))")
    s.ok('CREATE "Entw&APw-rfe/Neu" (USE (\\Drafts))')
    s.ok("CREATE NoUse (USE ())")
    _, tagged = s.cmd("CREATE Everything (USE (\\All))")
    assert tagged.startswith("NO [USEATTR]"), tagged
    _, tagged = s.cmd("CREATE Odd (USE (\\Bogus))")
    assert tagged.startswith("NO [USEATTR]"), tagged
    _, tagged = s.cmd('CREATE "Level/" (USE (\\Archive))')
    assert tagged.startswith("NO [USEATTR]"), tagged
    for bad in ("CREATE X (USE)", "CREATE X (FOO (1))", "CREATE X (USE (Sent))", "CREATE X ()"):
        _, tagged = s.cmd(bad)
        assert tagged.startswith("BAD"), (bad, tagged)
    names = haven.stored_names("alice")
    for gone in ("Everything", "Odd", "Level", "X"):
        assert gone not in names
    s.close()
    time.sleep(3)  # a new worker: the store is read again
    s = Session(haven)
    listing = attrs(s.list('LIST (SPECIAL-USE) "" "*"'))
    assert listing["Saved"] == {"\\Archive", NI}
    assert listing["MySpecial"] == {"\\Drafts", "\\Sent", NI}
    assert listing["Entw&APw-rfe/Neu"] == {"\\Drafts", NI}
    assert "NoUse" not in listing
    # RENAME carries it, also with the level above
    s.ok("RENAME Saved Old/Saved")
    s.ok('RENAME "Entw&APw-rfe" Drafts2')
    listing = attrs(s.list('LIST (SPECIAL-USE) "" "*"'))
    assert listing["Old/Saved"] == {"\\Archive", NI} and "Saved" not in listing
    assert listing["Drafts2/Neu"] == {"\\Drafts", NI}
    # a new mailbox under the old name starts without it; DELETE drops it
    s.ok("CREATE Saved")
    s.ok("DELETE MySpecial")
    s.ok("CREATE MySpecial")
    listing = attrs(s.list('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert listing["Saved"] == {NI} and listing["MySpecial"] == {NI}
    s.close()


# Legacy mail as migration tools copy it: raw 8-bit header bytes, UTF-8 and
# not (Latin-1, a lone 0xFF, a mix), in the From, Subject, a MIME part's
# header, an encoded-word next to raw bytes.
LEGACY_8BIT = [
    "Subject: Grüße\r\n\r\nbody ü is fine\r\n".encode(),
    b"From: J\xfcrgen M\xfcller <jm@example.de>\r\nSubject: Caf\xe9 \xe0 Paris\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9\r\n",
    b"Subject: \xff\xfe odd\r\nX-Mixed: =?utf-8?q?Gr=C3=BC=C3=9Fe?= Gr\xc3\xbc\xdf\r\n\r\nx\r\n",
    b"Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Disposition: attachment; filename=\"r\xe9sum\xe9.txt\"\r\n\r\nhi\r\n--b--\r\n",
]


def test_append_legacy_8bit_headers_in_rev1(haven):
    """Issue 17 item 14: legacy mail with raw 8-bit header bytes is accepted
    from an IMAP4rev1 session that did not ENABLE UTF8=ACCEPT (as Dovecot
    does; RFC 9051 6.3.12 allows it in rev2), stored byte for byte, and
    given back so. Through imaplib's synchronizing literals, as mbsync and
    OfflineIMAP send them, and through LITERAL+."""
    m = haven.login("alice")
    for msg in LEGACY_8BIT:
        typ, data = m.append("INBOX", None, None, msg)
        assert typ == "OK" and b"APPENDUID" in data[0], (msg, data)
    m.logout()
    s = RawSession(haven)
    for msg in LEGACY_8BIT:
        s.append(b"INBOX", msg)
    s.ok(b"EXAMINE INBOX")
    n = 2 * len(LEGACY_8BIT)
    for i in range(n):
        msg = LEGACY_8BIT[i % len(LEGACY_8BIT)]
        out = b"".join(s.ok(b"FETCH %d (RFC822.SIZE BODY.PEEK[])" % (i + 1)))
        assert b"RFC822.SIZE %d " % len(msg) in out and msg in out, (i, out)
    s.close()
    # The same from sessions that enabled UTF-8 (unchanged).
    m = haven.login("alice")
    assert m._simple_command("ENABLE", "UTF8=ACCEPT")[0] == "OK"
    assert m.append("INBOX", None, None, LEGACY_8BIT[0])[0] == "OK"
    m.logout()
    m = haven.login("bob")
    assert m._simple_command("ENABLE", "IMAP4rev2")[0] == "OK"
    assert m.append("INBOX", None, None, LEGACY_8BIT[0])[0] == "OK"
    m.logout()

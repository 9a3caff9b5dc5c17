"""METADATA (RFC 5464) on every store: GETMETADATA (MAXSIZE, DEPTH) and
SETMETADATA on the server ("") and on mailboxes, the RFC's examples with
their exact responses, every error case it names, the configured limits,
persistence across sessions and worker restarts, and what DELETE and
RENAME do to a mailbox's entries."""
import os

from conftest import only_backends
from procs import children_of, wait_for
from rfc9051_common import Session, tagged, untagged  # noqa: F401


def workers(h):
    return sorted(pid for pid, argv in children_of(h.proc.pid)
                  if argv and os.path.basename(argv[0]) == "haven-worker")


def meta(s, command):
    """The METADATA responses and the tagged line of a command that must succeed."""
    out = s.ok(command)
    return [l for l in out if l.startswith(b"* METADATA")], out[-1]


def test_capability(haven):
    s = Session(haven)
    caps = untagged(s.ok(b"CAPABILITY"))[0]
    assert b" METADATA " in caps or caps.rstrip().endswith(b" METADATA-SERVER"), caps
    assert b" METADATA-SERVER" in caps, caps


def test_rfc_examples(haven):
    """RFC 5464 4.2 and 4.3, with the responses the RFC shows."""
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/private/comment "My own comment")')
    got, _ = meta(s, b'GETMETADATA "INBOX" /private/comment')
    assert got == [b'* METADATA "INBOX" (/private/comment "My own comment")\r\n']
    s.ok(b'SETMETADATA INBOX (/shared/comment "Shared comment")')
    got, _ = meta(s, b'GETMETADATA "INBOX" (/shared/comment /private/comment)')
    assert got == [b'* METADATA "INBOX" (/shared/comment "Shared comment" '
                   b'/private/comment "My own comment")\r\n']
    # a multi-line value through a synchronizing literal (4.3)
    tag = s.next_tag()
    s.send(tag + b" SETMETADATA INBOX (/private/comment {33}\r\n")
    assert s.f.readline().startswith(b"+")
    s.send(b"My new comment across\r\ntwo lines.)\r\n")
    assert s.until(tag)[-1].startswith(tag + b" OK")
    got, _ = meta(s, b'GETMETADATA INBOX /private/comment')
    assert got == [b'* METADATA "INBOX" (/private/comment {33}\r\n'
                   b'My new comment across\r\ntwo lines.)\r\n']
    # NIL removes; an entry that does not exist is answered NIL
    s.ok(b"SETMETADATA INBOX (/private/comment NIL)")
    got, _ = meta(s, b"GETMETADATA INBOX /private/comment")
    assert got == [b'* METADATA "INBOX" (/private/comment NIL)\r\n']
    # several at once, then one of them removed
    s.ok(b'SETMETADATA INBOX (/private/comment "My new comment" '
         b'/shared/comment "This one is for you!")')
    got, _ = meta(s, b"GETMETADATA INBOX (/private/comment /shared/comment)")
    assert got == [b'* METADATA "INBOX" (/private/comment "My new comment" '
                   b'/shared/comment "This one is for you!")\r\n']


def test_entry_names_case_insensitive(haven):
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/Private/Vendor/Example.COM/Colour "red")')
    got, _ = meta(s, b"GETMETADATA INBOX /PRIVATE/vendor/example.com/colour")
    assert got == [b'* METADATA "INBOX" (/private/vendor/example.com/colour "red")\r\n']


def test_private_and_shared_kept_apart(haven):
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/private/comment "mine" /shared/comment "ours")')
    s.ok(b"SETMETADATA INBOX (/shared/comment NIL)")
    got, _ = meta(s, b"GETMETADATA INBOX (/private/comment /shared/comment)")
    assert got == [b'* METADATA "INBOX" (/private/comment "mine" /shared/comment NIL)\r\n']


def test_server_entries(haven_factory):
    h = haven_factory(extra_conf="metadata_server_admin = mailto:postmaster@example.org\n"
                                 "metadata_server_comment = Shared comment")
    s = Session(h)
    got, _ = meta(s, b'GETMETADATA "" /shared/comment')
    assert got == [b'* METADATA "" (/shared/comment "Shared comment")\r\n']
    got, _ = meta(s, b'GETMETADATA "" (/shared/admin /private/comment)')
    assert got == [b'* METADATA "" (/shared/admin "mailto:postmaster@example.org" '
                   b'/private/comment NIL)\r\n']
    # the administrator's entries are read-only
    assert s.no(b'SETMETADATA "" (/shared/admin "mailto:me@example.org")').split(b" ", 1)[1].startswith(b"NO [NOPERM]")
    assert s.no(b'SETMETADATA "" (/shared/vendor/x/y "1")').split(b" ", 1)[1].startswith(b"NO [NOPERM]")
    # private server entries are the user's own
    s.ok(b'SETMETADATA "" (/private/vendor/haven/note "hello")')
    got, _ = meta(s, b'GETMETADATA "" /private/vendor/haven/note')
    assert got == [b'* METADATA "" (/private/vendor/haven/note "hello")\r\n']
    # and another user does not see them
    b = Session(h, user="bob")
    got, _ = meta(b, b'GETMETADATA "" /private/vendor/haven/note')
    assert got == [b'* METADATA "" (/private/vendor/haven/note NIL)\r\n']
    # mailbox entries are not server entries
    got, _ = meta(s, b"GETMETADATA INBOX /private/vendor/haven/note")
    assert got == [b'* METADATA "INBOX" (/private/vendor/haven/note NIL)\r\n']


def test_depth(haven):
    """RFC 5464 4.2.2: DEPTH 0, 1 and infinity."""
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" '
         b'/private/filters/values/boss "FROM \\"boss@example.com\\"" '
         b'/private/filters/values/boss/deep "x" /private/filtersx "y")')
    got, _ = meta(s, b"GETMETADATA INBOX (DEPTH 1) (/private/filters/values)")
    assert got == [b'* METADATA "INBOX" ('
                   b'/private/filters/values/boss "FROM \\"boss@example.com\\"" '
                   b'/private/filters/values/small "SMALLER 5000")\r\n']
    got, _ = meta(s, b"GETMETADATA INBOX (DEPTH 0) /private/filters/values")
    assert got == [b'* METADATA "INBOX" (/private/filters/values NIL)\r\n']
    # nothing at or below: NIL, whatever the depth
    got, _ = meta(s, b"GETMETADATA INBOX (DEPTH infinity) /private/nothing")
    assert got == [b'* METADATA "INBOX" (/private/nothing NIL)\r\n']
    got, _ = meta(s, b"GETMETADATA INBOX (DEPTH infinity) /private/filters")
    assert got == [b'* METADATA "INBOX" ('
                   b'/private/filters/values/boss "FROM \\"boss@example.com\\"" '
                   b'/private/filters/values/boss/deep "x" '
                   b'/private/filters/values/small "SMALLER 5000")\r\n']
    # the roots may be asked for with a depth
    got, _ = meta(s, b"GETMETADATA INBOX (DEPTH INFINITY) /private")
    assert b"/private/filtersx" in got[0] and b"/private/filters/values/small" in got[0]


def test_maxsize_longentries(haven):
    """RFC 5464 4.2.1: values over MAXSIZE are left out, the largest told."""
    s = Session(haven)
    big = b"x" * 2199
    s.ok(b'SETMETADATA INBOX (/private/comment "My own comment" /shared/comment {%d+}\r\n%s)'
         % (len(big), big))
    got, tag = meta(s, b'GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)')
    assert got == [b'* METADATA "INBOX" (/private/comment "My own comment")\r\n']
    assert b" OK [METADATA LONGENTRIES 2199] " in tag, tag
    got, tag = meta(s, b'GETMETADATA INBOX (MAXSIZE 5000 DEPTH 1) /shared')
    assert got[0].startswith(b'* METADATA "INBOX" (/shared/comment {2199}\r\n')
    assert b"LONGENTRIES" not in tag
    # nothing fits: no METADATA response at all
    got, tag = meta(s, b"GETMETADATA INBOX (MAXSIZE 10) /shared/comment")
    assert got == [] and b"[METADATA LONGENTRIES 2199]" in tag


def test_binary_value(haven):
    s = Session(haven)
    v = b"a\x00b\xffc"
    s.ok(b"SETMETADATA INBOX (/private/vendor/x/bin ~{%d+}\r\n%s)" % (len(v), v))
    got, _ = meta(s, b"GETMETADATA INBOX /private/vendor/x/bin")
    assert got == [b'* METADATA "INBOX" (/private/vendor/x/bin ~{5}\r\n' + v + b")\r\n"]


BAD_ENTRIES = [b"/private//x", b"/private/x/", b"/private/*", b"/shared/a%b",
               b"/other/x", b"/privatex/y", b"private/x", b'"/private/\\"\x01"', b"/private",
               b'"/private/caf\xc3\xa9"']


def test_bad_entry_names(haven):
    """RFC 5464 3.2: an invalid entry name is a BAD; the session goes on."""
    s = Session(haven)
    for e in BAD_ENTRIES:
        s.bad(b'SETMETADATA INBOX (%s "v")' % e)
        if e != b"/private":  # the root alone may be read (with DEPTH)
            s.bad(b"GETMETADATA INBOX %s" % e)
    s.ok(b"NOOP")


def test_syntax_errors(haven):
    s = Session(haven)
    for c in [b"GETMETADATA", b"GETMETADATA INBOX", b"GETMETADATA INBOX ()",
              b"GETMETADATA (MAXSIZE) INBOX /private/a", b"GETMETADATA (MAXSIZE -1) INBOX /private/a",
              b"GETMETADATA (DEPTH 2) INBOX /private/a", b"GETMETADATA (FOO 1) INBOX /private/a",
              b"GETMETADATA (DEPTH 0 DEPTH 1) INBOX /private/a",
              b"SETMETADATA INBOX", b"SETMETADATA INBOX ()", b"SETMETADATA INBOX (/private/a)",
              b"SETMETADATA INBOX /private/a v", b"SETMETADATA INBOX (/private/a ATOM)",
              b"SETMETADATA INBOX (/private/a (x))"]:
        s.bad(c)
    s.ok(b"NOOP")


def test_nonexistent_mailbox(haven):
    s = Session(haven)
    assert s.no(b"GETMETADATA nosuch /private/comment").split(b" ", 1)[1].startswith(b"NO [NONEXISTENT]")
    assert s.no(b'SETMETADATA nosuch (/private/comment "x")').split(b" ", 1)[1].startswith(b"NO [NONEXISTENT]")
    s.ok(b"NOOP")


def test_maxsize_limit(haven_factory):
    h = haven_factory(extra_conf="metadata_max_value_size = 1024")
    s = Session(h)
    v = b"v" * 1025
    out = s.no(b'SETMETADATA INBOX (/private/a "ok" /private/b {1025+}\r\n%s)' % v)
    assert out.split(b" ", 1)[1].startswith(b"NO [METADATA MAXSIZE 1024] "), out
    # nothing of the command happened
    got, _ = meta(s, b"GETMETADATA INBOX /private/a")
    assert got == [b'* METADATA "INBOX" (/private/a NIL)\r\n']
    s.ok(b"SETMETADATA INBOX (/private/b {1024+}\r\n%s)" % v[:1024])
    # a literal announced bigger is refused before a byte of it is read:
    # no continuation, the answer at once, and the session goes on
    tag = s.next_tag()
    s.send(tag + b" SETMETADATA INBOX (/private/c {50000000}\r\n")
    out = s.f.readline()
    assert out.startswith(tag + b" NO [METADATA MAXSIZE 1024] "), out
    s.ok(b"NOOP")
    # the same for an entry name longer than any valid one (a BAD)
    tag = s.next_tag()
    s.send(tag + b" SETMETADATA INBOX ({5000}\r\n")
    out = s.f.readline()
    assert out.startswith(tag + b" BAD "), out
    s.ok(b"NOOP")


def test_toomany(haven_factory):
    h = haven_factory(extra_conf="metadata_max_entries = 10")
    s = Session(h)
    s.ok(b"CREATE other")
    s.ok(b"SETMETADATA INBOX (%s)" % b" ".join(b'/private/e%d "v"' % i for i in range(6)))
    s.ok(b'SETMETADATA "" (/private/s1 "v" /private/s2 "v")')
    s.ok(b'SETMETADATA other (/private/o1 "v" /private/o2 "v")')
    # the eleventh entry, with a change that alone would be fine: all refused
    out = s.no(b'SETMETADATA other (/private/o1 "changed" /private/o3 "v")')
    assert out.split(b" ", 1)[1].startswith(b"NO [METADATA TOOMANY] "), out
    got, _ = meta(s, b"GETMETADATA other /private/o1")
    assert got == [b'* METADATA "other" (/private/o1 "v")\r\n']
    # replacing and removing still work at the limit
    s.ok(b'SETMETADATA other (/private/o1 "changed")')
    s.ok(b'SETMETADATA other (/private/o2 NIL /private/o3 "v")')


def test_total_size_limit(haven_factory):
    h = haven_factory(extra_conf="metadata_max_total_size = 2048\nmetadata_max_value_size = 2048")
    s = Session(h)
    s.ok(b"SETMETADATA INBOX (/private/a {1500+}\r\n%s)" % (b"a" * 1500))
    out = s.no(b"SETMETADATA INBOX (/private/b {600+}\r\n%s)" % (b"b" * 600))
    assert out.split(b" ", 1)[1].startswith(b"NO [OVERQUOTA] "), out
    s.ok(b"SETMETADATA INBOX (/private/a NIL /private/b {600+}\r\n%s)" % (b"b" * 600))


def test_persistence_across_worker_restart(haven):
    s = Session(haven)
    s.ok(b"CREATE Work")
    s.ok(b'SETMETADATA Work (/private/comment "kept")')
    s.ok(b'SETMETADATA "" (/private/vendor/haven/x "server")')
    first = workers(haven)
    assert len(first) == 1
    s.ok(b"LOGOUT")
    # worker_idle_timeout is 2 s: the user's worker exits, a new one serves
    assert wait_for(lambda: not workers(haven), timeout=60), workers(haven)
    s = Session(haven)
    got, _ = meta(s, b"GETMETADATA Work /private/comment")
    assert got == [b'* METADATA "Work" (/private/comment "kept")\r\n']
    got, _ = meta(s, b'GETMETADATA "" /private/vendor/haven/x')
    assert got == [b'* METADATA "" (/private/vendor/haven/x "server")\r\n']


def test_delete_drops_entries(haven):
    """RFC 5464 4.1: a mailbox created again does not inherit the entries."""
    s = Session(haven)
    s.ok(b"CREATE c")
    s.ok(b"CREATE a/b")
    s.ok(b'SETMETADATA c (/private/comment "c")')
    s.ok(b'SETMETADATA a (/private/comment "a")')   # a \Noselect level
    s.ok(b'SETMETADATA a/b (/private/comment "b")')
    for box in (b"a/b", b"c"):
        s.ok(b"DELETE " + box)
        assert s.no(b"GETMETADATA %s /private/comment" % box).split(b" ", 1)[1].startswith(
            b"NO [NONEXISTENT]")
        s.ok(b"CREATE " + box)
        got, _ = meta(s, b"GETMETADATA %s /private/comment" % box)
        assert got == [b'* METADATA "%s" (/private/comment NIL)\r\n' % box]
    got, _ = meta(s, b"GETMETADATA a /private/comment")
    assert got == [b'* METADATA "a" (/private/comment "a")\r\n']


@only_backends("pgsql")
def test_delete_to_noselect_drops_entries(haven):
    """A DELETE that keeps the mailbox as a \\Noselect level for its
    children (pgsql) drops its entries all the same."""
    s = Session(haven)
    s.ok(b"CREATE p")
    s.ok(b"CREATE p/q")
    s.ok(b'SETMETADATA p (/private/comment "p")')
    s.ok(b"DELETE p")
    got, _ = meta(s, b"GETMETADATA p /private/comment")
    assert got == [b'* METADATA "p" (/private/comment NIL)\r\n']


def test_rename_keeps_entries(haven):
    s = Session(haven)
    s.ok(b"CREATE top/kid")
    s.ok(b'SETMETADATA top (/private/comment "top")')
    s.ok(b'SETMETADATA top/kid (/shared/comment "kid")')
    s.ok(b"RENAME top moved")
    got, _ = meta(s, b"GETMETADATA moved /private/comment")
    assert got == [b'* METADATA "moved" (/private/comment "top")\r\n']
    got, _ = meta(s, b"GETMETADATA moved/kid /shared/comment")
    assert got == [b'* METADATA "moved/kid" (/shared/comment "kid")\r\n']
    s.ok(b"CREATE top")
    got, _ = meta(s, b"GETMETADATA top /private/comment")
    assert got == [b'* METADATA "top" (/private/comment NIL)\r\n']


def test_rename_inbox_copies_entries(haven):
    """RFC 5464 4.1: INBOX keeps its entries, the new mailbox gets a copy."""
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/private/comment "inbox")')
    s.ok(b"RENAME INBOX Old")
    for box in (b"INBOX", b"Old"):
        got, _ = meta(s, b"GETMETADATA %s /private/comment" % box)
        assert got == [b'* METADATA "%s" (/private/comment "inbox")\r\n' % box]


def test_selected_state_and_mutf7(haven):
    s = Session(haven)
    s.ok(b"CREATE &AOk-t&AOk-")
    s.ok(b"SELECT &AOk-t&AOk-")
    s.ok(b'SETMETADATA "&AOk-t&AOk-" (/private/comment "summer")')
    got, _ = meta(s, b"GETMETADATA &AOk-t&AOk- /private/comment")
    assert got == [b'* METADATA "&AOk-t&AOk-" (/private/comment "summer")\r\n']


@only_backends("mbox")
def test_mbox_damaged_file_refused_untouched(haven):
    """The mbox store's file is read back as outside bytes: a damaged one
    is refused whole (NO [SERVERBUG]), never written over, and the session
    goes on; a good one written by hand is read."""
    s = Session(haven)
    s.ok(b'SETMETADATA INBOX (/private/comment "x")')
    path = os.path.join(haven.home_root, "alice", "mail", ".haven-metadata")
    with open(path, "rb") as f:
        assert f.read() == b"haven-metadata 1\nM 5 16 1\nINBOX/private/commentx\n"
    damaged = b"haven-metadata 1\nM 5 16 99999\nINBOX/private/commentx\n"
    with open(path, "wb") as f:
        f.write(damaged)
    assert s.no(b"GETMETADATA INBOX /private/comment").split(b" ", 1)[1].startswith(
        b"NO [SERVERBUG]")
    assert s.no(b'SETMETADATA INBOX (/private/other "y")').split(b" ", 1)[1].startswith(
        b"NO [SERVERBUG]")
    with open(path, "rb") as f:
        assert f.read() == damaged
    s.ok(b"NOOP")
    with open(path, "wb") as f:
        f.write(b"haven-metadata 1\nM 0 16 2\n/private/by/handhi\n")
    got, _ = meta(s, b'GETMETADATA "" /private/by/hand')
    assert got == [b'* METADATA "" (/private/by/hand "hi")\r\n']


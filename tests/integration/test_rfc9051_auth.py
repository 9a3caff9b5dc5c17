"""RFC 9051 section 6.3: the authenticated-state commands (ENABLE, SELECT,
EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, NAMESPACE,
STATUS, APPEND, IDLE) with the examples of the RFC's text adapted to this
server's single "/"-delimited personal namespace on mbox (a mailbox with
children is a \\Noselect directory), as IMAP4rev1 and after ENABLE
IMAP4rev2."""
import datetime
import re
import select

import pytest

from rfc9051_common import Session, lit, mode, simple_msg, untagged  # noqa: F401

DEFAULTS = [
    b'* LIST (\\NoInferiors \\HasNoChildren \\Archive) "/" "Archive"\r\n',
    b'* LIST (\\NoInferiors \\HasNoChildren \\Drafts) "/" "Drafts"\r\n',
    b'* LIST (\\NoInferiors \\HasNoChildren \\Junk) "/" "Junk"\r\n',
    b'* LIST (\\NoInferiors \\HasNoChildren \\Sent) "/" "Sent"\r\n',
    b'* LIST (\\NoInferiors \\HasNoChildren \\Trash) "/" "Trash"\r\n',
]
INBOX_LIST = b'* LIST (\\NoInferiors \\HasNoChildren) "/" "INBOX"\r\n'


class Unordered(list):
    """LIST responses come in no defined order (RFC 9051 6.3.9)."""
    def __eq__(self, other):
        return sorted(self) == sorted(other)

    def __ne__(self, other):
        return not self == other


def listing(s, args):
    return Unordered(untagged(s.ok(b"LIST " + args)))


def norecent(line):
    """\\Recent is not asserted about here (being implemented elsewhere)."""
    return line.replace(b" \\Recent", b"").replace(b"\\Recent ", b"").replace(b"(\\Recent)", b"()")


def status(s, box, items=b"MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE"):
    out = untagged(s.ok(b"STATUS " + box + b" (" + items + b")"))
    assert len(out) == 1, out
    m = re.match(rb'\* STATUS (\S+) \(([^)]*)\)\r\n$', out[0])
    assert m, out
    name = m.group(1).strip(b'"')
    vals = m.group(2).split()
    return name, dict(zip(vals[::2], (int(v) for v in vals[1::2])))


# ---- 6.3.1 ENABLE ------------------------------------------------------------

def test_enable(haven):
    s = Session(haven)
    out = s.ok(b"ENABLE IMAP4rev2", b"t2")
    assert out == [b"* ENABLED IMAP4rev2\r\n", b"t2 OK ENABLE completed\r\n"], out
    s.close()
    s = Session(haven)
    out = s.ok(b"ENABLE X-GOOD-IDEA IMAP4rev2", b"t2")
    assert out[0] == b"* ENABLED IMAP4rev2\r\n" and out[1].startswith(b"t2 OK")
    # already enabled: ENABLED lists nothing newly enabled; unknown names ignored
    assert untagged(s.ok(b"ENABLE IMAP4rev2 X-UNKNOWN")) == [b"* ENABLED\r\n"]
    s.bad(b"ENABLE")                       # no arguments
    s.close()


def test_enable_not_valid_in_selected_state(haven, mode):
    """RFC 9051 6.4 lists the authenticated-state commands valid in selected
    state without ENABLE; RFC 5161 3: only valid before a mailbox is
    selected. Used to be accepted (answered * ENABLED ... OK)."""
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"SELECT INBOX")
    out = s.cmd(b"ENABLE UTF8=ACCEPT")
    assert len(out) == 1 and out[0].startswith(b"A%03d BAD" % s.n), out
    s.close()


# ---- 6.3.2 SELECT / 6.3.3 EXAMINE -------------------------------------------

def test_select_example(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"INBOX", simple_msg(1), flags=b"\\Seen $Foo")
    s.append(b"INBOX", simple_msg(2))
    s.append(b"INBOX", simple_msg(3))
    _, st = status(s, b"INBOX")
    mailboxid = re.search(rb"MAILBOXID \(([\w-]+)\)",
                          b"".join(s.ok(b"STATUS INBOX (MAILBOXID)"))).group(1)
    out = s.ok(b"SELECT INBOX", b"A142")
    assert out[-1] == b"A142 OK [READ-WRITE] SELECT completed\r\n"
    u = [l for l in untagged(out) if not l.endswith(b" RECENT\r\n")]   # \Recent: not asserted
    expect = {
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo)\r\n",
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Foo \\*)] Flags permitted\r\n",
        b"* 3 EXISTS\r\n",
        b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % st[b"UIDVALIDITY"],
        b"* OK [UIDNEXT 4] Predicted next UID\r\n",
        b"* OK [MAILBOXID (%s)] Ok\r\n" % mailboxid,    # OBJECTID (RFC 8474 4.2)
    }
    if mode == "rev2":
        # rev2: no UNSEEN response code (E.11), a LIST response instead (E.10)
        expect.add(b'* LIST (\\NoInferiors \\HasNoChildren) "/" "INBOX"\r\n')
    else:
        expect.add(b"* OK [UNSEEN 2] First unseen\r\n")
        assert any(l.endswith(b" RECENT\r\n") for l in untagged(out))   # required in rev1
    assert set(u) == expect, u
    assert len(u) == len(expect)
    s.close()


def test_select_switch_and_failure(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"Drafts", simple_msg(1))
    s.ok(b"SELECT INBOX")
    out = s.ok(b"SELECT Drafts")
    if mode == "rev2":
        # 6.3.2: the server MUST send OK [CLOSED] before the new mailbox's responses
        assert out[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
    assert b"* 1 EXISTS\r\n" in out
    # a failed SELECT leaves the client in authenticated state
    out = s.cmd(b"SELECT blurdybloop")
    assert out[-1].startswith(b"A%03d NO [NONEXISTENT]" % s.n), out
    assert s.bad(b"FETCH 1 FLAGS")
    out = s.cmd(b"EXAMINE blurdybloop")
    assert out[-1].startswith(b"A%03d NO [NONEXISTENT]" % s.n), out
    # a \Noselect directory cannot be selected
    s.ok(b"CREATE owatagusiam/")
    out = s.cmd(b"SELECT owatagusiam")
    assert b" NO " in out[-1] and b"[NONEXISTENT]" not in out[-1], out
    s.bad(b"SELECT")
    s.close()


def test_examine_example(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE blurdybloop")
    s.append(b"blurdybloop", simple_msg(1))
    _, st = status(s, b"blurdybloop")
    out = s.ok(b"EXAMINE blurdybloop", b"A932")
    assert out[-1] == b"A932 OK [READ-ONLY] EXAMINE completed\r\n"
    u = untagged(out)
    assert b"* 1 EXISTS\r\n" in u
    assert b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n" in u
    assert b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % st[b"UIDVALIDITY"] in u
    assert b"* OK [UIDNEXT 2] Predicted next UID\r\n" in u
    if mode == "rev2":
        assert b'* LIST (\\NoInferiors \\HasNoChildren) "/" "blurdybloop"\r\n' in u
    # read-only: no \Seen set implicitly, STORE/EXPUNGE refused
    out = s.ok(b"FETCH 1 BODY[TEXT]")
    assert b"\\Seen" not in b"".join(out)
    out = s.cmd(b"STORE 1 +FLAGS (\\Deleted)")
    assert b" NO " in out[-1], out
    _, st = status(s, b"blurdybloop", b"UNSEEN DELETED")
    assert st == {b"UNSEEN": 1, b"DELETED": 0}
    out = s.cmd(b"EXPUNGE")
    assert b" NO " in out[-1], out
    s.close()


# ---- 6.3.4 CREATE ------------------------------------------------------------

def test_create_examples(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    assert s.ok(b"CREATE owatagusiam/", b"A003") == [b"A003 OK CREATE completed\r\n"]
    # (OBJECTID, RFC 8474 4.1: a new mailbox's id in the tagged OK; a
    # level of hierarchy is no mailbox and has none)
    out = s.ok(b"CREATE owatagusiam/blurdybloop", b"A004")
    assert len(out) == 1 and re.match(rb"A004 OK \[MAILBOXID \([\w-]+\)\] CREATE completed\r\n$",
                                      out[0]), out
    assert listing(s, b'"" owatagusiam*') == [
        b'* LIST (\\Noselect \\HasChildren) "/" "owatagusiam"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "owatagusiam/blurdybloop"\r\n']
    # superior names are created as needed
    s.ok(b"CREATE foo/bar/zap")
    assert listing(s, b'"" foo*') == [
        b'* LIST (\\Noselect \\HasChildren) "/" "foo"\r\n',
        b'* LIST (\\Noselect \\HasChildren) "/" "foo/bar"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "foo/bar/zap"\r\n']
    assert s.no(b"CREATE owatagusiam/blurdybloop").startswith(b"A%03d NO [ALREADYEXISTS]" % s.n)
    assert s.no(b"CREATE Drafts").startswith(b"A%03d NO [ALREADYEXISTS]" % s.n)
    # INBOX (any case) always exists
    assert s.no(b"CREATE INBOX").startswith(b"A%03d NO [ALREADYEXISTS]" % s.n)
    assert s.no(b"CREATE inBox").startswith(b"A%03d NO [ALREADYEXISTS]" % s.n)
    # INBOX cannot get children (every store); in mbox a mailbox is a file,
    # so plain mailboxes cannot either, in PostgreSQL they can
    assert s.no(b"CREATE INBOX/sub").startswith(b"A%03d NO [CANNOT]" % s.n)
    if haven.backend == "mbox":
        assert s.no(b"CREATE foo/bar/zap/deeper").startswith(b"A%03d NO [CANNOT]" % s.n)
    else:
        s.ok(b"CREATE foo/bar/zap/deeper")
        s.ok(b"DELETE foo/bar/zap/deeper")
    s.bad(b"CREATE")
    s.close()


# ---- 6.3.5 DELETE ------------------------------------------------------------

def test_delete_example(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE blurdybloop")
    s.ok(b"CREATE foo/bar")
    assert listing(s, b'"" *') == [
        INBOX_LIST, DEFAULTS[0],
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "blurdybloop"\r\n',
        DEFAULTS[1],
        b'* LIST (\\Noselect \\HasChildren) "/" "foo"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "foo/bar"\r\n'] + DEFAULTS[2:]
    assert s.ok(b"DELETE blurdybloop", b"A683") == [b"A683 OK DELETE completed\r\n"]
    # A684 DELETE foo -> NO, it has inferior hierarchical names
    out = s.cmd(b"DELETE foo", b"A684")
    assert out[-1].startswith(b"A684 NO"), out
    assert s.ok(b"DELETE foo/bar", b"A685") == [b"A685 OK DELETE completed\r\n"]
    assert listing(s, b'"" foo*') == [b'* LIST (\\Noselect \\HasNoChildren) "/" "foo"\r\n']
    assert s.ok(b"DELETE foo", b"A687") == [b"A687 OK DELETE completed\r\n"]
    assert listing(s, b'"" *') == [INBOX_LIST] + DEFAULTS
    # nonexistent, INBOX
    assert s.no(b"DELETE blurdybloop").startswith(b"A%03d NO [NONEXISTENT]" % s.n)
    assert s.no(b"DELETE INBOX").startswith(b"A%03d NO" % s.n)
    assert s.no(b"DELETE inbox").startswith(b"A%03d NO" % s.n)
    s.close()


def test_delete_selected_and_messages_gone(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE Tmp")
    s.append(b"Tmp", simple_msg(1))
    s.ok(b"CREATE Tmp2")
    s.ok(b"DELETE Tmp")
    s.ok(b"CREATE Tmp")           # a new mailbox, not the old contents
    assert status(s, b"Tmp")[1][b"MESSAGES"] == 0
    s.close()


# ---- 6.3.6 RENAME ------------------------------------------------------------

def test_rename_example_hierarchy(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE blurdybloop")
    s.append(b"blurdybloop", simple_msg(1))
    s.ok(b"CREATE foo/bar")
    s.append(b"foo/bar", simple_msg(2))
    s.append(b"foo/bar", simple_msg(3))
    assert s.ok(b"RENAME blurdybloop sarasoop", b"A683") == [b"A683 OK RENAME completed\r\n"]
    assert s.ok(b"RENAME foo zowie", b"A684") == [b"A684 OK RENAME completed\r\n"]
    out = listing(s, b'"" *')
    assert out == [INBOX_LIST] + DEFAULTS[:4] + [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "sarasoop"\r\n'] + DEFAULTS[4:] + [
        b'* LIST (\\Noselect \\HasChildren) "/" "zowie"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "zowie/bar"\r\n'], out
    # messages travel with the mailbox and its inferiors
    assert status(s, b"sarasoop")[1][b"MESSAGES"] == 1
    assert status(s, b"zowie/bar")[1][b"MESSAGES"] == 2
    assert s.no(b"STATUS foo/bar (MESSAGES)").startswith(b"A%03d NO [NONEXISTENT]" % s.n)
    # renaming into a new hierarchy creates the superior names
    s.ok(b"RENAME sarasoop a/b/sarasoop")
    # (names other than INBOX are case-sensitive: "a*" does not match Archive)
    assert listing(s, b'"" a*') == [
        b'* LIST (\\Noselect \\HasChildren) "/" "a"\r\n',
        b'* LIST (\\Noselect \\HasChildren) "/" "a/b"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "a/b/sarasoop"\r\n']
    # errors
    assert s.no(b"RENAME nosuch x").startswith(b"A%03d NO [NONEXISTENT]" % s.n)
    assert s.no(b"RENAME zowie/bar Drafts").startswith(b"A%03d NO [ALREADYEXISTS]" % s.n)
    assert s.no(b"RENAME Drafts INBOX").startswith(b"A%03d NO" % s.n)
    s.bad(b"RENAME onlyone")
    s.close()


def test_rename_inbox(haven, mode):
    # 6.3.6: renaming INBOX moves all its messages to the new name and leaves
    # INBOX empty (it still exists); mbox INBOX has no inferiors to keep.
    s = Session(haven, rev2=(mode == "rev2"))
    for i in range(1, 4):
        s.append(b"INBOX", simple_msg(i), flags=b"\\Flagged" if i == 2 else b"")
    _, before = status(s, b"INBOX")
    assert s.ok(b"RENAME INBOX old-mail", b"Z433") == [b"Z433 OK RENAME completed\r\n"]
    out = listing(s, b'"" *')
    assert INBOX_LIST in out
    assert b'* LIST (\\NoInferiors \\HasNoChildren) "/" "old-mail"\r\n' in out
    name, st = status(s, b"INBOX", b"MESSAGES")
    assert name == b"INBOX" and st == {b"MESSAGES": 0}
    _, st = status(s, b"old-mail", b"MESSAGES SIZE")
    assert st == {b"MESSAGES": 3, b"SIZE": before[b"SIZE"]}
    s.ok(b"SELECT old-mail")
    out = untagged(s.ok(b"FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
    assert len(out) == 3 and b"\\Flagged" in out[1] and b"Subject: message 3" in out[2]
    # INBOX is usable afterwards
    s.append(b"INBOX", simple_msg(9))
    assert status(s, b"INBOX", b"MESSAGES")[1] == {b"MESSAGES": 1}
    s.close()


# ---- 6.3.7 SUBSCRIBE / 6.3.8 UNSUBSCRIBE --------------------------------------

def test_subscribe_unsubscribe_examples(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    assert s.ok(b"SUBSCRIBE #news.comp.mail.mime", b"A002") == [b"A002 OK SUBSCRIBE completed\r\n"]
    s.ok(b"CREATE blurdybloop")
    s.ok(b"SUBSCRIBE blurdybloop")
    out = listing(s, b'(SUBSCRIBED) "" "*"')
    assert b'* LIST (\\NonExistent \\Subscribed) "/" "#news.comp.mail.mime"\r\n' in out
    assert b'* LIST (\\NoInferiors \\Subscribed) "/" "blurdybloop"\r\n' in out
    assert s.ok(b"UNSUBSCRIBE #news.comp.mail.mime", b"A003") == \
        [b"A003 OK UNSUBSCRIBE completed\r\n"]
    out = listing(s, b'(SUBSCRIBED) "" "*"')
    assert not any(b"#news" in l for l in out)
    # a subscription survives deletion of the mailbox (6.3.7: MUST NOT remove)
    s.ok(b"DELETE blurdybloop")
    assert b'* LIST (\\NonExistent \\Subscribed) "/" "blurdybloop"\r\n' in \
        listing(s, b'(SUBSCRIBED) "" "*"')
    s.bad(b"SUBSCRIBE")
    s.close()


# ---- 6.3.9 LIST --------------------------------------------------------------

def make_tree(s):
    """The 6.3.9.8 example hierarchy, with mbox's rule that a mailbox with
    children is a \\Noselect directory (Fruit, Vegetable)."""
    for box in (b"Fruit/Apple", b"Fruit/Banana", b"Tofu", b"Vegetable/Broccoli",
                b"Vegetable/Corn"):
        s.ok(b"CREATE " + box)
    for box in (b"INBOX", b"Fruit/Banana", b"Fruit/Peach", b"Vegetable/Broccoli"):
        s.ok(b"SUBSCRIBE " + box)
    for box in (b"Archive", b"Drafts", b"Junk", b"Sent", b"Trash"):
        s.ok(b"UNSUBSCRIBE " + box)


def test_list_delimiter_and_root_examples(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    assert s.ok(b'LIST "" ""', b"A101") == [b'* LIST (\\Noselect) "/" ""\r\n',
                                            b"A101 OK LIST completed\r\n"]
    # A102/A103: a reference with an empty pattern returns delimiter and root
    for ref in (b"#news.comp.mail.misc", b"/usr/staff/jones", b"Fruit/"):
        out = listing(s, ref + b' ""')
        assert len(out) == 1 and re.match(rb'\* LIST \(\\Noselect\) "/" ', out[0]), out
    # A202 LIST ~/Mail/ %: nothing lives there
    assert listing(s, b"~/Mail/ %") == []
    s.close()


def test_list_examples_6398(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    make_tree(s)
    # A01 LIST "" "*"
    assert listing(s, b'"" "*"') == [
        INBOX_LIST, DEFAULTS[0], DEFAULTS[1],
        b'* LIST (\\Noselect \\HasChildren) "/" "Fruit"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Apple"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Banana"\r\n',
        DEFAULTS[2], DEFAULTS[3],
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Tofu"\r\n',
        DEFAULTS[4],
        b'* LIST (\\Noselect \\HasChildren) "/" "Vegetable"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Broccoli"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Corn"\r\n']
    # A02 LIST (SUBSCRIBED) "" "*"
    assert listing(s, b'(SUBSCRIBED) "" "*"') == [
        b'* LIST (\\NoInferiors \\Subscribed) "/" "INBOX"\r\n',
        b'* LIST (\\NoInferiors \\Subscribed) "/" "Fruit/Banana"\r\n',
        b'* LIST (\\NonExistent \\Subscribed) "/" "Fruit/Peach"\r\n',
        b'* LIST (\\NoInferiors \\Subscribed) "/" "Vegetable/Broccoli"\r\n']
    # A03 LIST () "" "%" RETURN (CHILDREN)
    out = listing(s, b'() "" "%" RETURN (CHILDREN)')
    assert out == [
        INBOX_LIST,
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Archive"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Drafts"\r\n',
        b'* LIST (\\Noselect \\HasChildren) "/" "Fruit"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Junk"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Sent"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Tofu"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Trash"\r\n',
        b'* LIST (\\Noselect \\HasChildren) "/" "Vegetable"\r\n'], out
    # A06 LIST "" "*" RETURN (SUBSCRIBED) (no REMOTE here)
    out = listing(s, b'"" "Fruit*" RETURN (SUBSCRIBED)')
    assert out == [b'* LIST (\\Noselect) "/" "Fruit"\r\n',
                   b'* LIST (\\NoInferiors) "/" "Fruit/Apple"\r\n',
                   b'* LIST (\\NoInferiors \\Subscribed) "/" "Fruit/Banana"\r\n'], out
    # C04-style LIST (SUBSCRIBED RECURSIVEMATCH) "" "%": parents with
    # subscribed children get CHILDINFO
    out = listing(s, b'(SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert out == [b'* LIST (\\NoInferiors \\Subscribed) "/" "INBOX"\r\n',
                   b'* LIST (\\Noselect) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))\r\n',
                   b'* LIST (\\Noselect) "/" "Vegetable" ("CHILDINFO" ("SUBSCRIBED"))\r\n'], out
    # D03-style with a pattern that matches parent and child
    out = listing(s, b'(RECURSIVEMATCH SUBSCRIBED) "" "*t"')
    assert out == [b'* LIST (\\Noselect) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))\r\n'], out
    # RECURSIVEMATCH alone is BAD
    s.bad(b'LIST (RECURSIVEMATCH) "" "%"')
    # a2 LIST (SUBSCRIBED) "" "Fruit/*"
    assert listing(s, b'(SUBSCRIBED) "" "Fruit/*"') == [
        b'* LIST (\\NoInferiors \\Subscribed) "/" "Fruit/Banana"\r\n',
        b'* LIST (\\NonExistent \\Subscribed) "/" "Fruit/Peach"\r\n']
    # a1 LIST "" ("foo"): multiple patterns
    assert listing(s, b'"" ("Tofu" "Fruit/%")') == [
        b'* LIST (\\NoInferiors) "/" "Fruit/Apple"\r\n',
        b'* LIST (\\NoInferiors) "/" "Fruit/Banana"\r\n',
        b'* LIST (\\NoInferiors) "/" "Tofu"\r\n'] or listing(s, b'"" ("Tofu" "Fruit/%")') == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Apple"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Banana"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Tofu"\r\n']
    s.close()


def test_list_wildcards_and_reference(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    make_tree(s)
    # % does not match the delimiter, * does
    assert listing(s, b'"" %/%') == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Apple"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Banana"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Broccoli"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Corn"\r\n']
    assert listing(s, b'"" F%') == [b'* LIST (\\Noselect \\HasChildren) "/" "Fruit"\r\n']
    assert listing(s, b'"" F*a') == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Banana"\r\n']
    assert listing(s, b'"" V*li') == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Broccoli"\r\n']
    # reference is prefixed to the pattern
    assert listing(s, b"Fruit/ %") == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Apple"\r\n',
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Fruit/Banana"\r\n']
    assert listing(s, b"Fruit %") == [b'* LIST (\\Noselect \\HasChildren) "/" "Fruit"\r\n']
    assert listing(s, b"Vegetable/ *n") == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Vegetable/Corn"\r\n']
    # INBOX matches case-insensitively and is returned as INBOX
    assert listing(s, b'"" inbox') == [INBOX_LIST]
    assert listing(s, b'"" INBOX') == [INBOX_LIST]
    assert listing(s, b'"" I%') == [INBOX_LIST]
    # no match is not an error
    assert listing(s, b'"" nothing%') == []
    # a literal pattern
    assert listing(s, b'"" ' + lit(b"Tofu")) == [
        b'* LIST (\\NoInferiors \\HasNoChildren) "/" "Tofu"\r\n']
    s.close()


def test_list_return_status_and_special_use(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.append(b"Sent", simple_msg(1))
    out = untagged(s.ok(b'LIST "" "S*" RETURN (STATUS (MESSAGES UIDNEXT))'))
    assert len(out) == 2 and re.match(rb'\* LIST \([^)]*\) "/" "Sent"\r\n$', out[0]), out
    assert out[1] == b'* STATUS "Sent" (MESSAGES 1 UIDNEXT 2)\r\n', out
    assert listing(s, b'(SPECIAL-USE) "" "*"') == [
        b'* LIST (\\NoInferiors \\Archive) "/" "Archive"\r\n',
        b'* LIST (\\NoInferiors \\Drafts) "/" "Drafts"\r\n',
        b'* LIST (\\NoInferiors \\Junk) "/" "Junk"\r\n',
        b'* LIST (\\NoInferiors \\Sent) "/" "Sent"\r\n',
        b'* LIST (\\NoInferiors \\Trash) "/" "Trash"\r\n']
    s.bad(b'LIST ""')
    s.close()


# ---- 6.3.10 NAMESPACE --------------------------------------------------------

def test_namespace(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    assert s.ok(b"NAMESPACE", b"A001") == [b'* NAMESPACE (("" "/")) NIL NIL\r\n',
                                           b"A001 OK NAMESPACE completed\r\n"]
    s.ok(b"SELECT INBOX")
    assert untagged(s.ok(b"NAMESPACE")) == [b'* NAMESPACE (("" "/")) NIL NIL\r\n']
    s.close()


# ---- 6.3.11 STATUS -----------------------------------------------------------

def test_status_example(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE blurdybloop")
    msgs = [simple_msg(i) for i in range(1, 4)]
    s.append(b"blurdybloop", msgs[0], flags=b"\\Seen")
    s.append(b"blurdybloop", msgs[1], flags=b"\\Deleted")
    out = s.append(b"blurdybloop", msgs[2])
    uidv = int(re.search(rb"\[APPENDUID (\d+) 3\]", out[-1]).group(1))
    out = s.ok(b"STATUS blurdybloop (UIDNEXT MESSAGES)", b"A042")
    assert out == [b'* STATUS "blurdybloop" (MESSAGES 3 UIDNEXT 4)\r\n',
                   b"A042 OK STATUS completed\r\n"] or out == [
        b'* STATUS blurdybloop (MESSAGES 3 UIDNEXT 4)\r\n', b"A042 OK STATUS completed\r\n"], out
    name, st = status(s, b"blurdybloop")
    assert st == {b"MESSAGES": 3, b"UIDNEXT": 4, b"UIDVALIDITY": uidv, b"UNSEEN": 2,
                  b"DELETED": 1, b"SIZE": sum(len(m) for m in msgs)}
    # STATUS on the selected mailbox works and is consistent
    s.ok(b"SELECT blurdybloop")
    assert status(s, b"blurdybloop")[1] == st
    assert s.no(b"STATUS nosuch (MESSAGES)").startswith(b"A%03d NO [NONEXISTENT]" % s.n)
    s.bad(b"STATUS blurdybloop (BOGUS)")
    s.bad(b"STATUS blurdybloop")
    s.close()


# ---- 6.3.12 APPEND -----------------------------------------------------------

RFC_MSG = (b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
           b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
           b"Subject: afternoon meeting\r\n"
           b"To: mooch@owatagu.siam.edu.example\r\n"
           b"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
           b"\r\n"
           b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n")


def test_append_example(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"CREATE saved-messages")
    # synchronizing literal: wait for the continuation request
    s.send(b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(RFC_MSG))
    cont = s.response()
    assert cont.startswith(b"+ "), cont
    s.send(RFC_MSG + b"\r\n")
    out = s.until(b"A003")
    _, st = status(s, b"saved-messages", b"UIDVALIDITY MESSAGES UNSEEN")
    assert out == [b"A003 OK [APPENDUID %d 1] APPEND completed\r\n" % st[b"UIDVALIDITY"]], out
    assert st[b"MESSAGES"] == 1 and st[b"UNSEEN"] == 0
    s.ok(b"EXAMINE saved-messages")
    out = [norecent(l) for l in untagged(s.ok(b"FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[])"))]
    assert out == [b"* 1 FETCH (FLAGS (\\Seen) RFC822.SIZE %d BODY[] {%d}\r\n%s)\r\n"
                   % (len(RFC_MSG), len(RFC_MSG), RFC_MSG)], out
    s.close()


def test_append_flags_date_and_selected(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    s.ok(b"SELECT INBOX")
    # APPEND to the selected mailbox: the new message is announced (EXISTS)
    out = s.append(b"INBOX", RFC_MSG, flags=b"\\Flagged \\Draft $Work",
                   date=b" 7-Feb-1994 21:52:25 -0800")
    assert b"* 1 EXISTS\r\n" in out
    # (the new keyword is announced in FLAGS before the FETCH uses it)
    out = [l for l in untagged(s.ok(b"FETCH 1 (FLAGS INTERNALDATE)")) if b" FETCH " in l]
    m = re.match(rb'\* 1 FETCH \((?:UID 1 )?FLAGS \(([^)]*)\) INTERNALDATE "([^"]*)"\)\r\n', out[0])
    assert m, out
    assert set(m.group(1).split()) - {b"\\Recent"} == {b"\\Flagged", b"\\Draft", b"$Work"}
    # the same instant (the zone need not be kept)
    got = datetime.datetime.strptime(m.group(2).decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    assert got == datetime.datetime(1994, 2, 7, 21, 52, 25,
                                    tzinfo=datetime.timezone(datetime.timedelta(hours=-8)))
    # the new keyword becomes part of FLAGS for a fresh SELECT
    out = s.ok(b"SELECT INBOX")
    assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n" in out
    # invalid date-time and flags are BAD
    s.bad(b'APPEND INBOX "32-Feb-1994 21:52:25 -0800" ' + lit(RFC_MSG))
    s.bad(b"APPEND INBOX (\\Bogus) " + lit(RFC_MSG))
    s.close()


def test_append_literal8_and_trycreate(haven, mode):
    s = Session(haven, rev2=(mode == "rev2"))
    body = b"Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\x02\xff\r\n"
    out = s.ok(b"APPEND Drafts ~{%d+}\r\n" % len(body) + body)
    assert b"[APPENDUID " in out[-1]
    s.ok(b"EXAMINE Drafts")
    out = untagged(s.ok(b"FETCH 1 (BINARY.PEEK[1] RFC822.SIZE)"))
    assert b"\x00\x01\x02\xff\r\n" in out[0] and b"RFC822.SIZE %d" % len(body) in out[0], out
    # no such mailbox -> NO [TRYCREATE]
    out = s.cmd(b"APPEND blurdybloop " + lit(RFC_MSG))
    assert out == [b"A%03d NO [TRYCREATE] Mailbox does not exist\r\n" % s.n], out
    s.ok(b"CREATE blurdybloop")
    s.ok(b"APPEND blurdybloop " + lit(RFC_MSG))
    # a \Noselect directory is not a TRYCREATE case
    s.ok(b"CREATE dir/")
    out = s.cmd(b"APPEND dir " + lit(RFC_MSG))
    assert b" NO " in out[-1] and b"TRYCREATE" not in out[-1], out
    s.close()


# ---- 6.3.13 IDLE -------------------------------------------------------------

def wait_readable(s, secs=10):
    r, _, _ = select.select([s.sock], [], [], secs)
    return bool(r)


@pytest.mark.parametrize("state", ["auth", "selected"])
def test_idle_example(haven, mode, state):
    a = Session(haven, rev2=(mode == "rev2"))
    b = Session(haven, user="alice")
    if state == "selected":
        a.append(b"INBOX", simple_msg(1))
        out = a.ok(b"SELECT INBOX", b"A001")
    a.send(b"A002 IDLE\r\n")
    cont = a.response()
    assert cont.startswith(b"+ "), cont
    b.append(b"INBOX", simple_msg(2))
    if state == "selected":
        assert wait_readable(a)
        line = a.response()
        while line.endswith(b" RECENT\r\n"):
            line = a.response()
        assert line == b"* 2 EXISTS\r\n", line
    a.send(b"DONE\r\n")
    out = a.until(b"A002")
    assert out[-1].startswith(b"A002 OK"), out
    assert not [l for l in out[:-1] if not l.endswith(b" RECENT\r\n")], out
    a.ok(b"NOOP")
    a.close()
    b.close()


def test_idle_bad_continuation(haven):
    s = Session(haven)
    s.send(b"A002 IDLE\r\n")
    assert s.response().startswith(b"+ ")
    s.send(b"NOTDONE\r\n")
    out = s.until(b"A002")
    assert out[-1].startswith(b"A002 BAD"), out
    s.ok(b"NOOP")
    s.close()

"""Every ASTRING-CHAR in a mailbox name sent as an atom, through CREATE,
LIST, SELECT, STATUS, RENAME and DELETE (issue 17, item 5: "[" was taken
for the start of a FETCH section, so `SELECT a[b` answered "BAD Missing ']'
in section" instead of NO, and LIST patterns with "[" were refused).

The rule checked: an atom name is never a syntax error. The mbox store
refuses a few names for reasons of its own (a component may not start with
"." and may not be empty), and says so with NO [CANNOT]; every other name
works through every command."""
import re

import pytest

from test_mailboxes import LIST_RE, Session, unquote

# RFC 9051: ASTRING-CHAR = ATOM-CHAR / resp-specials; ATOM-CHAR is any
# printable CHAR but atom-specials: ( ) { SP CTL % * " \ and "]", which
# resp-specials lets back in.
ASTRING_CHARS = [chr(c) for c in range(0x21, 0x7f) if chr(c) not in '(){%*"\\']


def wire(name, utf8):
    """The name as an IMAP4rev1 client writes it (modified UTF-7: "&" is
    "&-"), or as is after ENABLE UTF8=ACCEPT."""
    return name if utf8 else name.replace("&", "&-")


def refused_by_store(name):
    return any(c == "" or c.startswith(".") for c in name.split("/"))


def names():
    for c in ASTRING_CHARS:
        yield "a%sb" % c
        yield "%sb" % c
        if c != "/":   # "a/" names a hierarchy level (CREATE's trailing delimiter)
            yield "a%s" % c


def listed(s, ref, pattern):
    """{name as sent: attributes} of a LIST."""
    out = {}
    for line in s.ok('LIST %s %s' % (ref, pattern)):
        m = LIST_RE.match(line)
        assert m, line
        out[unquote(m.group(3))] = set(m.group(2).split())
    return out


def tagged_of(s, command):
    _, tagged = s.cmd(command)
    assert not tagged.startswith("BAD"), (command, tagged)
    return tagged


def check_name(s, name, utf8):
    w = wire(name, utf8)
    tagged = tagged_of(s, "CREATE " + w)
    if refused_by_store(name):
        assert tagged.startswith("NO [CANNOT]"), (name, tagged)
        assert tagged_of(s, "SELECT " + w).startswith("NO"), name
        return
    assert tagged.startswith("OK"), (name, tagged)
    got = listed(s, '""', w)
    assert list(got) == [w] and "\\NonExistent" not in got[w], (name, got)
    # As a pattern: the name up to its last character, then a wildcard.
    assert w in listed(s, '""', wire(name[:-1], utf8) + "%"), name
    assert tagged_of(s, "SELECT " + w).startswith("OK"), name
    status = s.ok("STATUS %s (MESSAGES)" % w)
    assert status and status[0].endswith("(MESSAGES 0)"), (name, status)
    s.ok("UNSELECT")
    assert tagged_of(s, "RENAME %s %sr" % (w, w)).startswith("OK"), name
    assert tagged_of(s, "SELECT " + w).startswith("NO [NONEXISTENT]"), name
    assert list(listed(s, '""', w + "r")) == [w + "r"], name
    assert tagged_of(s, "DELETE %sr" % w).startswith("OK"), name
    assert listed(s, '""', w + "r") == {}, name
    if "/" in name and not name.startswith("/"):
        s.ok("DELETE " + wire(name.split("/")[0], utf8))   # the level CREATE made


def test_bracket_names_are_not_sections(haven):
    """The reported cases."""
    s = Session(haven)
    name = "!#$&'+,-.0123456789:;<=>?@^_`|[}"
    assert tagged_of(s, "SELECT " + wire(name, False)).startswith("NO [NONEXISTENT]")
    assert tagged_of(s, 'LIST "" ' + wire(name, False) + "%*").startswith("OK")
    s.close()


@pytest.mark.parametrize("utf8", [False, True], ids=["rev1", "utf8"])
def test_every_astring_char_in_names(haven, utf8):
    s = Session(haven)
    if utf8:
        s.ok("ENABLE UTF8=ACCEPT")
    before = listed(s, '""', "*")
    for name in names():
        check_name(s, name, utf8)
    assert listed(s, '""', "*") == before
    s.close()

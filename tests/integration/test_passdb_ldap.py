"""passdb = ldap against a throwaway slapd (Debian's package) on
loopback: search-then-bind with a service account, a bind-DN template,
wrong password, unknown user, empty password, uid/gid/home/quota from
attributes, slapd killed mid-test (NO [UNAVAILABLE], and logins again
once it is back), StartTLS and ldaps:// with a test CA (and a refusal
without it), and the auth cache answering while the directory is down."""
import os
import pwd

import pytest

import slapd
from conftest import IS_ROOT, Haven, check_sanitizers, mail_identity
from procs import descendants_of

pytestmark = pytest.mark.skipif(not slapd.available(), reason="slapd not installed (install-deps)")

PEOPLE = "ou=people," + slapd.BASE
READER = "cn=reader," + slapd.BASE


@pytest.fixture(scope="module")
def directory():
    name, uid, gid = mail_identity() if IS_ROOT else ("", os.getuid(), os.getgid())
    d = slapd.Slapd({
        "lara": ("lara-pw", uid, gid, "/nonexistent", {"employeeNumber": "2000000"}),
        "leo": ("leo-pw", uid, gid, "/nonexistent", {}),
        "odd,name": ("odd-pw", uid, gid, "/nonexistent", {}),
    }).start()
    yield d
    d.cleanup()


def start(d, *lines, uri=None):
    conf = ["passdb = ldap", "passdb_ldap_uri = %s" % (uri or d.uri),
            "passdb_ldap_base = " + PEOPLE, "passdb_ldap_bind_dn = " + READER,
            "passdb_ldap_bind_password = reader-secret",
            "passdb_ldap_attr_quota_bytes = employeeNumber", "passdb_ldap_attr_home = ",
            "passdb_ldap_timeout = 3000", "passdb_cache_ttl = 0",
            "passdb_cache_negative_ttl = 0"] + list(lines)
    return Haven(extra_conf="\n".join(conf)).start()


def answer(h, user, password):
    m = h.imap()
    try:
        typ, _ = m.login(user, password)
        m.logout()
        return typ
    except m.error as e:
        return str(e)


def worker_record(h, user):
    for pid, argv in descendants_of(h.proc.pid):
        if "-a" in argv and argv[argv.index("-a") + 1] == user and "-c" in argv:
            return argv[argv.index("-c") + 1]
    return None


def stop(h):
    check_sanitizers(h.stop())


def test_search_then_bind(directory):
    h = start(directory)
    try:
        m = h.imap()
        assert m.login("lara", "lara-pw")[0] == "OK"
        assert worker_record(h, "lara") == "0:2000000:0"
        m.logout()
        assert answer(h, "LEO", "leo-pw") == "OK"          # the entry's uid is the login
        assert "login: user=leo " in h.log_text()
        assert answer(h, "odd,name", "odd-pw") == "OK"      # escaped in the filter
        # (imaplib sends the name as it is: quoted here where IMAP wants it.)
        for user, pw in (("lara", "wrong"), ("nobody", "x"), ("lara", ""), ('"*"', "lara-pw"),
                         ('"lara)(uid=*"', "lara-pw"), ('"*)(|(uid=*"', "x")):
            assert "AUTHENTICATIONFAILED" in answer(h, user, pw), (user, pw)
        stop(h)
    finally:
        h.stop()
        h.cleanup()


def test_bind_dn_template(directory):
    h = start(directory, "passdb_ldap_user_dn = uid=%u," + PEOPLE, "passdb_ldap_base = ")
    try:
        assert answer(h, "leo", "leo-pw") == "OK"
        assert answer(h, "odd,name", "odd-pw") == "OK"      # escaped in the DN
        assert "AUTHENTICATIONFAILED" in answer(h, "leo", "lara-pw")
        assert "AUTHENTICATIONFAILED" in answer(h, "nobody", "x")
        stop(h)
    finally:
        h.stop()
        h.cleanup()


def test_server_killed_and_back(directory):
    h = start(directory)
    try:
        assert answer(h, "lara", "lara-pw") == "OK"
        directory.kill()
        try:
            a = answer(h, "lara", "lara-pw")
            assert "UNAVAILABLE" in a, a
        finally:
            directory.start()
        # The children connect again.
        assert answer(h, "lara", "lara-pw") == "OK"
        assert answer(h, "leo", "leo-pw") == "OK"
        stop(h)
    finally:
        h.stop()
        h.cleanup()


def test_starttls_and_ldaps_with_a_test_ca(directory):
    for lines, uri in ((["passdb_ldap_starttls = yes", "passdb_ldap_ca_file = " + directory.ca], None),
                       (["passdb_ldap_ca_file = " + directory.ca], directory.ldaps_uri)):
        h = start(directory, *lines, uri=uri)
        try:
            assert answer(h, "lara", "lara-pw") == "OK", lines
            assert "AUTHENTICATIONFAILED" in answer(h, "lara", "nope")
            stop(h)
        finally:
            h.stop()
            h.cleanup()
    # Without our CA the server's certificate is refused: no login, and
    # no password sent in the clear either.
    other = slapd.make_ca(directory.dir + "/db", "Someone else")
    h = start(directory, "passdb_ldap_starttls = yes", "passdb_ldap_ca_file = " + other)
    try:
        a = answer(h, "lara", "lara-pw")
        assert "UNAVAILABLE" in a, a
        stop(h)
    finally:
        h.stop()
        h.cleanup()


def test_cache_answers_while_the_directory_is_down(directory):
    h = start(directory, "passdb_cache_ttl = 300", "passdb_cache_negative_ttl = 300")
    try:
        assert answer(h, "lara", "lara-pw") == "OK"
        assert "AUTHENTICATIONFAILED" in answer(h, "nobody", "x")
        directory.kill()
        try:
            assert answer(h, "lara", "lara-pw") == "OK"                 # positive entry
            assert "AUTHENTICATIONFAILED" in answer(h, "nobody", "y")   # negative entry
            # Anything the cache does not know needs the directory.
            assert "UNAVAILABLE" in answer(h, "lara", "other-pw")
            assert "UNAVAILABLE" in answer(h, "leo", "leo-pw")
        finally:
            directory.start()
        assert "passdb ldap: lara: cached (ok)" in h.log_text()
        stop(h)
    finally:
        h.stop()
        h.cleanup()

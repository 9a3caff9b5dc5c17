"""The brute-force policy of the auth helper, from clients at different
loopback addresses: a user blocked from one network still logs in from
another; a blocked login (even with the right password) gets its own
answer, NO [UNAVAILABLE] with a text of its own, never the wrong-password
one; a whole network is blocked past its own limit; failures spread over
many networks never block the user; networks are counted by prefix; and
each block is logged at warning level."""
import re
import time

from srcaddr import login_answer

POLICY = """trusted_networks =
auth_failure_delay_ms = 0
auth_failure_delay_max_ms = 0
auth_user_ip_max_failures = 3
auth_ip_max_failures = 6
auth_block_time = 120
"""

WRONG = b"a NO [AUTHENTICATIONFAILED] Authentication failed"


def blocked(answer):
    return answer.startswith(b"a NO [UNAVAILABLE] Too many failed logins")


def test_user_blocked_from_one_network_only(haven_factory):
    h = haven_factory(extra_conf=POLICY)
    for _ in range(3):
        assert login_answer(h, "127.0.0.2", "alice", "guess") == WRONG
    # From there, even the right password is refused, and says why.
    a = login_answer(h, "127.0.0.2", "alice", "pw-alice")
    assert blocked(a), a
    assert a != WRONG
    # Alice from another address, and bob from the same one, log in.
    assert login_answer(h, "127.0.0.3", "alice", "pw-alice").startswith(b"a OK")
    assert login_answer(h, "127.0.0.2", "bob", "pw-bob").startswith(b"a OK")
    log = h.log_text()
    assert re.search(r"warning: auth: blocking this user from the client network for 120 s "
                     r"after too many failed logins: user=alice remote=127\.0\.0\.2 "
                     r"net=127\.0\.0\.2/32", log), log[-3000:]
    assert re.search(r"warning: auth: login refused, this user from the client network is "
                     r"blocked .* user=alice remote=127\.0\.0\.2", log)


def test_network_blocked_for_every_user(haven_factory):
    h = haven_factory(extra_conf=POLICY)
    for i in range(6):
        # Different (unknown) users: no pair reaches its own limit first.
        assert login_answer(h, "127.0.0.4", "nobody%d" % i, "x") == WRONG
    assert blocked(login_answer(h, "127.0.0.4", "bob", "pw-bob"))
    assert login_answer(h, "127.0.0.5", "bob", "pw-bob").startswith(b"a OK")
    assert "warning: auth: blocking the client network for 120 s" in h.log_text()


def test_failures_from_many_networks_never_block_the_user(haven_factory):
    # What an attacker spread over many addresses does to alice: slower
    # answers, never a lock-out (that would let anyone lock anyone out).
    h = haven_factory(extra_conf=POLICY)
    for i in range(10, 30):
        assert login_answer(h, "127.0.0.%d" % i, "alice", "guess") == WRONG
    assert login_answer(h, "127.0.0.99", "alice", "pw-alice").startswith(b"a OK")


def test_networks_counted_by_prefix(haven_factory):
    h = haven_factory(extra_conf=POLICY + "client_ipv4_prefix = 24\n")
    for i, src in enumerate(["127.0.7.1", "127.0.7.2", "127.0.7.3"] * 2):
        assert login_answer(h, src, "x%d" % i, "x") == WRONG
    # Six failures from 127.0.7.0/24: the whole /24 is blocked...
    assert blocked(login_answer(h, "127.0.7.200", "bob", "pw-bob"))
    # ...and nothing outside it.
    assert login_answer(h, "127.0.8.1", "bob", "pw-bob").startswith(b"a OK")


def test_failure_delay_grows(haven_factory):
    h = haven_factory(extra_conf="trusted_networks =\nauth_failure_delay_ms = 200\n"
                                 "auth_failure_delay_max_ms = 800\n"
                                 "auth_user_ip_max_failures = 0\nauth_ip_max_failures = 0\n")
    took = []
    for _ in range(4):
        t = time.monotonic()
        assert login_answer(h, "127.0.0.6", "alice", "guess") == WRONG
        took.append(time.monotonic() - t)
    # 200, 400, 800, 800 ms: doubling, capped. Lower bounds only (a loaded
    # machine adds time, never takes it away).
    assert took[1] >= 0.4 and took[2] >= 0.8 and took[3] >= 0.8, took
    assert login_answer(h, "127.0.0.6", "alice", "pw-alice").startswith(b"a OK")

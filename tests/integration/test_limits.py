"""Pre-auth connection limits: 100 idle sockets from one network cannot
keep anybody else out (max_connections_per_ip, counted by prefix), every
connection beyond a limit gets BYE [UNAVAILABLE] at once, a limit being
hit is logged at warning level without a line per refused connection, a
logged-in session no longer counts against its network, and the pre-auth
idle and total time limits close silent and dawdling clients."""
import socket
import time

from srcaddr import imap_from, raw_from

LIMITS = "trusted_networks =\nmax_connections_per_ip = 10\nmax_connections = 60\n"


def hold(h, src, n):
    """n connections from src; each one's first line."""
    socks, first = [], []
    for _ in range(n):
        s, f, line = raw_from(h, src)
        socks.append(s)
        first.append(line)
    return socks, first


def test_idle_sockets_from_one_network_keep_nobody_out(haven_factory):
    h = haven_factory(extra_conf=LIMITS)
    socks, first = hold(h, "127.0.0.2", 100)
    try:
        greeted = [l for l in first if l.startswith(b"* OK")]
        refused = [l for l in first
                   if l == b"* BYE [UNAVAILABLE] Too many connections from your network\r\n"]
        assert len(greeted) == 10 and len(refused) == 90, set(first)
        # Another network is served at once, and logs in.
        m = imap_from(h, "127.0.0.3")
        m.login("alice", "pw-alice")
        assert m.select("INBOX")[0] == "OK"
        m.logout()
        log = h.log_text()
        warns = [l for l in log.splitlines()
                 if "max_connections_per_ip (10) reached for 127.0.0.2/32" in l]
        # Rate-limited: not one line per refused connection.
        assert 1 <= len(warns) <= 3, warns
        assert "warning:" in warns[0]
    finally:
        for s in socks:
            s.close()


def test_max_connections_bye(haven_factory):
    h = haven_factory(extra_conf="max_connections = 5\n")
    # The start-up checks' own connections (plain and TLS listener) count
    # until the master has seen them close, which a loaded machine delays:
    # then fewer are greeted. Measured again after a pause (a server that
    # really admits fewer than max_connections still fails).
    for attempt in range(10):
        socks, first = hold(h, "127.0.0.1", 8)
        if sum(l.startswith(b"* OK") for l in first) == 5 or attempt == 9:
            break
        for s in socks:
            s.close()
        time.sleep(2)
    try:
        assert [l[:4] for l in first] == [b"* OK"] * 5 + [b"* BY"] * 3, first
        assert first[5] == b"* BYE [UNAVAILABLE] Too many connections\r\n"
        assert "warning: max_connections (5) reached" in h.log_text()
    finally:
        for s in socks:
            s.close()


def test_logged_in_sessions_do_not_count(haven_factory):
    # A NAT's users, logged in for hours, must not use up the network's
    # pre-auth allowance.
    h = haven_factory(extra_conf="trusted_networks =\nmax_connections_per_ip = 3\n")
    sessions = []
    try:
        for _ in range(6):
            m = imap_from(h, "127.0.0.2")
            m.login("alice", "pw-alice")
            sessions.append(m)
        s, f, line = raw_from(h, "127.0.0.2")
        assert line.startswith(b"* OK"), line
        s.close()
    finally:
        for m in sessions:
            m.logout()


def test_networks_counted_by_prefix(haven_factory):
    h = haven_factory(extra_conf=LIMITS + "client_ipv4_prefix = 24\n")
    socks = []
    try:
        for i in range(10):
            s, f, line = raw_from(h, "127.0.5.%d" % (i + 1))
            assert line.startswith(b"* OK"), line
            socks.append(s)
        s, f, line = raw_from(h, "127.0.5.77")
        socks.append(s)
        assert line.startswith(b"* BYE [UNAVAILABLE]"), line
        s, f, line = raw_from(h, "127.0.6.1")
        socks.append(s)
        assert line.startswith(b"* OK"), line
    finally:
        for s in socks:
            s.close()


def read_until_closed(f, limit):
    lines = []
    while len(lines) < limit:
        line = f.readline()
        if not line:
            break
        lines.append(line)
    return lines


def test_preauth_idle_and_total_time_limits(haven_factory):
    h = haven_factory(extra_conf="preauth_idle_timeout = 2\npreauth_timeout = 6\n")
    # Silent: closed by the idle limit (its own BYE), not the total one.
    s, f = h.raw()
    lines = read_until_closed(f, 5)
    assert lines == [b"* BYE Autologout; idle for too long\r\n"], lines
    s.close()
    # Busy but never logging in: the total limit ends it.
    s, f = h.raw()
    t = time.monotonic()
    bye = None
    while bye is None and time.monotonic() - t < 20:
        try:
            s.sendall(b"n NOOP\r\n")
        except OSError:
            break
        while True:
            line = f.readline()
            if not line or line.startswith(b"n "):
                break
            if line.startswith(b"* BYE"):
                bye = line
                break
        time.sleep(1)
    assert bye == b"* BYE Timeout before login\r\n", bye
    assert time.monotonic() - t >= 5.5
    s.close()

"""The OpenMetrics endpoint (metrics_listen): scraped during a session, its
counters move (connections, logins by mechanism and result, LMTP
deliveries, commands with their latency histogram, client bytes); it
answers only on its loopback address and only GET/HEAD /metrics, bad
requests get their status and the server goes on; a non-loopback
address is refused by the configuration check."""
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import BUILD, Haven, check_sanitizers, free_port
from lmtp_client import Lmtp
from procs import wait_for

BACKENDS = ["mbox"]  # about the daemon's counters, not the store


@pytest.fixture
def h(backend):
    h = Haven(users=("alice",), backend=backend,
              extra_conf="metrics_listen = 127.0.0.1:%d\nlmtp_listen = 127.0.0.1:%d"
              % (free_port(), free_port()))
    with open(h.conf) as f:
        conf = f.read()
    h.metrics_port = int(re.search(r"metrics_listen = 127.0.0.1:(\d+)", conf).group(1))
    h.lmtp_port = int(re.search(r"lmtp_listen = 127.0.0.1:(\d+)", conf).group(1))
    h.start()
    yield h
    check_sanitizers(h.stop())
    h.cleanup()


def scrape(h):
    url = "http://127.0.0.1:%d/metrics" % h.metrics_port
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        text = r.read().decode()
    assert text.endswith("# EOF\n")
    return text


def value(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def raw(h, request):
    s = socket.create_connection(("127.0.0.1", h.metrics_port), timeout=10)
    s.sendall(request)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_counters_move_during_a_session(h):
    before = scrape(h)
    assert value(before, 'haven_logins_total{mechanism="PLAIN",result="ok"}') == 0
    m = h.login("alice")
    m.select("INBOX")
    m.append("INBOX", None, None, b"Subject: x\r\n\r\nbody\r\n")
    m.fetch("1", "(FLAGS BODY.PEEK[])")
    m.logout()
    bad = h.imap()
    with pytest.raises(Exception):
        bad.login("alice", "wrong")
    c = Lmtp(h.lmtp_port)
    c.lhlo()
    c.ok(b"MAIL FROM:<a@example.org>")
    c.ok(b"RCPT TO:<alice>")
    assert [r[0] for r in c.data(b"Subject: y\r\n\r\nz\r\n", 1)] == [250]
    c.close()

    def moved():
        t = scrape(h)
        n = value(t, 'haven_command_duration_seconds_count{command="FETCH"}')
        return t if n and n >= 1 else None
    assert wait_for(moved, timeout=30), scrape(h)
    text = moved()
    assert value(text, 'haven_connections_total{service="imap"}') >= 2
    assert value(text, 'haven_connections_total{service="lmtp"}') == 1
    logins = {k: v for k, v in re.findall(r'^haven_logins_total\{(.*)\} (\S+)$', text, re.M)}
    assert sum(float(v) for k, v in logins.items() if 'result="ok"' in k) == 1, logins
    assert sum(float(v) for k, v in logins.items() if 'result="failed"' in k) == 1, logins
    assert value(text, 'haven_lmtp_deliveries_total{result="ok"}') == 1
    assert value(text, 'haven_command_duration_seconds_bucket{command="FETCH",le="+Inf"}') >= 1
    assert value(text, 'haven_command_duration_seconds_count{command="APPEND"}') == 1
    assert value(text, 'haven_client_bytes_total{direction="out"}') > 0
    assert value(text, "haven_user_workers") is not None


def test_only_metrics_and_bad_requests_answered(h):
    assert raw(h, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404 ")
    r = raw(h, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD\r\n" in r
    assert raw(h, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(h, b"GET /metrics HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    assert raw(h, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 431 ")
    head = raw(h, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n")
    assert "# EOF" in scrape(h)  # still serving


def test_answers_only_on_its_loopback_address(h):
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.2", h.metrics_port), timeout=5)


def test_non_loopback_address_refused(tmp_path):
    h = Haven(users=("alice",), extra_conf="metrics_listen = 0.0.0.0:%d" % free_port())
    try:
        r = subprocess.run([os.path.join(BUILD, "havend"), "-t", "-c", h.conf],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "not a loopback address" in r.stderr, r
    finally:
        h.cleanup()

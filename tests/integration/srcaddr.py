"""Clients from chosen loopback addresses (all of 127.0.0.0/8 is local on
Linux): the per-network limits and the login lockout tell clients apart by
address, so their tests play attackers and victims from different ones."""
import imaplib
import socket


class SrcIMAP(imaplib.IMAP4):
    """imaplib's client, connecting from source address src."""

    def __init__(self, src, host, port, timeout=20):
        self.src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


def imap_from(h, src):
    return SrcIMAP(src, "127.0.0.1", h.port)


def raw_from(h, src, timeout=20):
    """A plain socket from src and its first line (greeting or BYE)."""
    s = socket.create_connection(("127.0.0.1", h.port), timeout, source_address=(src, 0))
    f = s.makefile("rb")
    return s, f, f.readline()


def login_answer(h, src, user, password):
    """The tagged answer to LOGIN from src, as bytes ("a OK ..." / "a NO ...")."""
    s, f, greeting = raw_from(h, src)
    assert greeting.startswith(b"* OK"), greeting
    try:
        s.sendall(b"a LOGIN %s %s\r\n" % (user.encode(), password.encode()))
        while True:
            line = f.readline()
            assert line, "connection closed before the LOGIN answer"
            if line.startswith(b"a "):
                return line.rstrip()
    finally:
        s.close()

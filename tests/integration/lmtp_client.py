"""A small LMTP client for the tests: raw lines, so that every reply (one
per recipient after DATA) is seen exactly as the server sent it, which
smtplib's LMTP class does not do."""
import socket


class Lmtp:
    def __init__(self, port=None, path=None, timeout=30):
        if path:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(timeout)
            self.s.connect(path)
        else:
            self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")
        self.greeting = self.reply()
        assert self.greeting[0] == 220, self.greeting

    def reply(self):
        """(code, [lines]) of one reply, multi-line ones joined."""
        lines = []
        while True:
            line = self.f.readline()
            assert line.endswith(b"\r\n"), (line, lines)
            lines.append(line[4:-2])
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, line):
        self.send(line + b"\r\n")
        return self.reply()

    def ok(self, line, code=250):
        r = self.cmd(line)
        assert r[0] == code, (line, r)
        return r

    def lhlo(self):
        return self.ok(b"LHLO test.example")

    def data(self, message, nrcpt):
        """DATA with dot-stuffing; the replies, one per accepted recipient."""
        assert self.cmd(b"DATA")[0] == 354
        self.send(stuff(message) + b".\r\n")
        return [self.reply() for _ in range(nrcpt)]

    def close(self):
        try:
            self.cmd(b"QUIT")
        except OSError:
            pass
        self.s.close()


def stuff(message):
    """The message as DATA carries it: lines starting with '.' get another,
    and it ends with CRLF."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


def code_text(reply):
    return reply[0], b" ".join(reply[1]).decode()

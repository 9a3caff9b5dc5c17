"""Waiting for a server under test to listen, shared by every harness."""
import socket
import time


def wait_listening(port, proc, timeout, log, host="127.0.0.1"):
    """Return once host:port accepts; raise with log() if proc exits
    first or the timeout passes."""
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError("server exited before listening:\n" + log())
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if time.time() >= deadline:
                raise RuntimeError("server did not listen within %ss:\n%s" % (timeout, log()))
            time.sleep(0.05)

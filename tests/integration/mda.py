"""A local delivery agent that writes to an mbox file the way Debian's MDAs
do (Debian policy 22.6, liblockfile): take MBOX.lock with dotlockfile
(liblockfile-bin), open the mailbox, take an fcntl write lock on it, append
a From_ line, the message (LF line ends, mboxrd escaped) and a blank line,
unlock, remove the dotlock.

Run as a program (so it writes in parallel with the test's IMAP sessions):

    python3 mda.py MBOX TAG FIRST COUNT SEED

delivers messages FIRST..FIRST+COUNT-1 made by mboxfmt.make_message(TAG,
i, ...) with a random.Random(SEED) per message, and prints one line per
delivery ("i lock-attempts") and "done" at the end. Exit status 0 only if
every message was delivered."""
import errno
import fcntl
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mboxfmt  # noqa: E402

DOTLOCKFILE = "/usr/bin/dotlockfile"


def message(tag, i, seed):
    rng = random.Random("%s-%d-%d" % (tag, seed, i))
    size = rng.choice([200, 600, 1200, 2500, 4000])
    return mboxfmt.make_message(tag, i, size, rng, escapes=rng.random() < 0.5)


def dotlock(path, deadline):
    """Take path.lock as liblockfile does; -p writes our pid (so a lock left
    by a dead holder is recognised) and breaks locks of dead processes.
    Retries quickly ourselves: dotlockfile's own retries sleep 5 s and more."""
    tries = 0
    while True:
        tries += 1
        rc = subprocess.call([DOTLOCKFILE, "-p", "-r", "0", "-l", path + ".lock"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rc == 0:
            return tries
        if time.time() > deadline:
            raise RuntimeError("dotlockfile -l %s.lock: still failing (rc %d) after %d tries"
                               % (path, rc, tries))
        time.sleep(random.uniform(0.001, 0.01))


def undotlock(path):
    subprocess.check_call([DOTLOCKFILE, "-u", path + ".lock"])


def deliver(path, msg, sender="mda@example.org", timeout=60):
    deadline = time.time() + timeout
    tries = dotlock(path, deadline)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES) or time.time() > deadline:
                        raise
                    time.sleep(0.002)
            # Holding the dotlock, nobody may have replaced the file since we
            # opened it; check anyway, as careful MDAs do.
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise RuntimeError("mailbox replaced while we held its dotlock")
            data = mboxfmt.from_line(sender) + mboxfmt.stored_form(msg) + b"\n"
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            fcntl.lockf(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        undotlock(path)
    return tries


def main(argv):
    path, tag, first, count, seed = argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5])
    pace = random.Random(seed)
    for i in range(first, first + count):
        tries = deliver(path, message(tag, i, seed))
        print(i, tries, flush=True)
        # Deliveries come one after another, as from a busy queue.
        time.sleep(pace.uniform(0, 0.004))
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

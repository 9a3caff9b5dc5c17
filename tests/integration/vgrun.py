"""Teardown shared by the valgrind tests: a havend run under valgrind is
stopped if still up, and its directory and valgrind logs removed, unless
HAVEN_KEEP is set (then both are printed for a human to read)."""
import os
import shutil


def finish(h, logdir):
    if h.proc.poll() is None:
        h.proc.kill()
        h.proc.wait()
    h.logf.close()
    if os.environ.get("HAVEN_KEEP"):
        print(h.log_text())
        print(logdir)
    else:
        h.cleanup()
        shutil.rmtree(logdir, ignore_errors=True)

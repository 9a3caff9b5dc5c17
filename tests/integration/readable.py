"""Copies of what a test runs as an unprivileged user, where that user can
read them. A checkout may sit where only root can go: a new root user
clones into /root, mode 0700 (issue 17, item 1: the demo and the MDA of
the mbox concurrency test could not be read there). So such a test copies
what the user needs into a directory of its own that anyone can read, as
scripts/demo already does for the mail it serves."""
import os
import shutil
import stat
import tempfile


def readable_tree(files):
    """A new directory that every user can read and traverse, holding a
    copy of each file of files ({relative path: source path}), executables
    still executable. Returns its path; remove it with shutil.rmtree."""
    top = tempfile.mkdtemp(prefix="haven-readable-")
    os.chmod(top, 0o755)
    for rel, src in files.items():
        dst = os.path.join(top, rel)
        parent = os.path.dirname(dst)
        os.makedirs(parent, exist_ok=True)
        while parent != top:
            os.chmod(parent, 0o755)
            parent = os.path.dirname(parent)
        shutil.copyfile(src, dst)
        executable = os.stat(src).st_mode & stat.S_IXUSR
        os.chmod(dst, 0o755 if executable else 0o644)
    return top


def all_readable(path):
    """True if every directory from / down to path lets others through and
    path lets others read it: what an unprivileged user needs."""
    path = os.path.abspath(path)
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    while True:
        path = os.path.dirname(path)
        if not os.stat(path).st_mode & stat.S_IXOTH:
            return False
        if path == "/":
            return True

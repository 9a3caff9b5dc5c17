/* Locking compatible with Debian's MDAs (Debian policy 22.6): first a
 * "<mbox>.lock" dotlock made with O_EXCL, then an fcntl lock on the file.
 * Waits are bounded by lock_timeout; a dotlock whose pid is gone from this
 * host, or that is older than five minutes, is stale (its owner died) and
 * removed.
 *
 * We use open-file-description locks where the kernel has them: they
 * conflict with the classic POSIX locks MDAs take, but belong to our open
 * file rather than to the whole process, so closing some other descriptor
 * of the same file (another session of this user in the same worker) does
 * not silently drop our lock.
 *
 * Waiting polls (the fcntl blocking wait has no timeout) and blocks the
 * calling worker; locks are held only inside one backend call, so waits
 * are short unless another program misbehaves.
 *
 * Debian's /var/mail is root:mail 2775 and the worker runs as the user:
 * dotlocks there are made with the privileged mail group (see
 * mbox_dir_openat). Where even that is not possible (no such group
 * configured), we go on with the fcntl lock alone, as MDAs that deliver
 * there also take it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define LOCK_POLL_NS (50 * 1000 * 1000)

static void nap(void)
{
	struct timespec ts = { 0, LOCK_POLL_NS };
	nanosleep(&ts, NULL);
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fcntl_try(int fd, int type)
{
	struct flock fl;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)type;
	fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
#endif
	return fcntl(fd, F_SETLK, &fl);
}

int mbox_lock_fd(int fd, int write)
{
	return fcntl_try(fd, write ? F_WRLCK : F_RDLCK);
}

/* Has the dotlock's owner gone? It holds a pid (ours, like liblockfile's,
 * is decimal text); a pid that no process on this host has is dead. Also
 * gives the lock's inode, so we only ever remove the lock we judged. */
static int dotlock_owner_dead(struct mbox_lock *lk, struct stat *sb)
{
	char buf[32];
	long pid;
	char *end;
	ssize_t n;
	int fd = openat(lk->dirfd, lk->dotname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return 0;
	n = fstat(fd, sb) == 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (pid <= 0 || (*end != '\0' && *end != '\n'))
		return 0;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Made as liblockfile makes it: the pid goes into a temp file which is
 * then linked to the lock's name, so the lock never exists without its
 * pid (a kill between create and write would leave a lock nobody can
 * tell is stale). */
static int dotlock_create(struct mbox_lock *lk)
{
	char tmp[96], pid[32];
	struct stat sb;
	int fd, rc, e, n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	mbox_tmp_name(tmp, sizeof(tmp));
	fd = mbox_dir_openat(lk->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0644);
	if (fd < 0)
		return -1;
	if (write(fd, pid, (size_t)n) != n || fstat(fd, &sb) < 0) {
		e = errno;
		close(fd);
		mbox_dir_unlinkat(lk->dirfd, tmp);
		errno = e ? e : EIO;
		return -1;
	}
	close(fd);
	rc = mbox_dir_linkat(lk->dirfd, tmp, lk->dotname);
	e = errno;
	mbox_dir_unlinkat(lk->dirfd, tmp);
	errno = e;
	if (rc == 0) {
		lk->dot_dev = sb.st_dev;
		lk->dot_ino = sb.st_ino;
	}
	return rc;
}

static int dotlock_take(struct mbox_lock *lk, double deadline, struct error *err)
{
	for (;;) {
		struct stat sb;
		int dead;
		if (dotlock_create(lk) == 0) {
			lk->have_dot = 1;
			return 0;
		}
		if (errno == EACCES || errno == EPERM || errno == EROFS) {
			log_debug("mbox: no dotlock for %s (%s), using fcntl only", lk->dotname,
				  strerror(errno));
			return 0;
		}
		if (errno != EEXIST)
			return mbox_errno_error(err, errno, "create lock", lk->dotname);
		/* Stale: its owner died (a killed worker or MDA), or it is so
		 * old that its owner must have (one on another host). */
		dead = dotlock_owner_dead(lk, &sb);
		if (dead || (fstatat(lk->dirfd, lk->dotname, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			     time(NULL) - sb.st_mtime > MBOX_STALE_DOTLOCK)) {
			struct stat now;
			log_warn("mbox: removing stale lock %s (%s)", lk->dotname,
				 dead ? "its process is gone" : "too old");
			if (fstatat(lk->dirfd, lk->dotname, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
			    now.st_dev == sb.st_dev && now.st_ino == sb.st_ino &&
			    mbox_dir_unlinkat(lk->dirfd, lk->dotname) < 0 && errno != ENOENT)
				return mbox_errno_error(err, errno, "remove stale lock", lk->dotname);
			/* Whoever died holding it may have left temp files. */
			mbox_tmp_cleanup(lk->dirfd);
			continue;
		}
		if (now_mono() >= deadline) {
			error_set(err, ERR_INUSE, "Mailbox is locked by another program (%s)",
				  lk->dotname);
			return -1;
		}
		nap();
	}
}

static void dotlock_drop(struct mbox_lock *lk)
{
	struct stat sb;
	if (!lk->have_dot)
		return;
	lk->have_dot = 0;
	/* Remove it only if it is still ours: had we been slow enough for
	 * someone to break it as stale, the lock there now is theirs. */
	if (fstatat(lk->dirfd, lk->dotname, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    sb.st_dev == lk->dot_dev && sb.st_ino == lk->dot_ino)
		mbox_dir_unlinkat(lk->dirfd, lk->dotname);
}

int mbox_lock_acquire(struct mbox_lock *lk, int dirfd, const char *base, int fd, int write,
		      long timeout, struct error *err)
{
	double deadline = now_mono() + (double)timeout;

	memset(lk, 0, sizeof(*lk));
	lk->fd = fd;
	lk->dirfd = dirfd;
	lk->dotname = xasprintf("%s.lock", base);
	/* Readers take the fcntl lock only (as Dovecot's default
	 * mbox_read_locks): it conflicts with every writer's, and a FETCH
	 * over many messages then costs no lock files. Writers take both. */
	if (write && dotlock_take(lk, deadline, err) < 0) {
		free(lk->dotname);
		lk->dotname = NULL;
		return -1;
	}
	for (;;) {
		if (fcntl_try(fd, write ? F_WRLCK : F_RDLCK) == 0) {
			lk->have_fcntl = 1;
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			mbox_errno_error(err, errno, "lock", base);
			break;
		}
		if (now_mono() >= deadline) {
			error_set(err, ERR_INUSE, "Mailbox is locked by another program");
			break;
		}
		nap();
	}
	dotlock_drop(lk);
	free(lk->dotname);
	lk->dotname = NULL;
	return -1;
}

int mbox_lock_upgrade(struct mbox_lock *lk, long timeout, struct error *err)
{
	double deadline = now_mono() + (double)timeout;
	/* The dotlock first, as every writer takes them, but without
	 * waiting: we hold a read lock, and an MDA holding the dotlock waits
	 * for exactly that lock to go (lock order: dotlock, then fcntl).
	 * Busy means "not now"; callers cope. */
	if (!lk->have_dot && dotlock_take(lk, now_mono(), err) < 0)
		return -1;
	for (;;) {
		if (fcntl_try(lk->fd, F_WRLCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return mbox_errno_error(err, errno, "lock", lk->dotname);
		if (now_mono() >= deadline) {
			dotlock_drop(lk);
			error_set(err, ERR_INUSE, "Mailbox is locked by another program");
			return -1;
		}
		nap();
	}
}

void mbox_lock_release(struct mbox_lock *lk)
{
	if (lk->have_fcntl) {
		fcntl_try(lk->fd, F_UNLCK);
		lk->have_fcntl = 0;
	}
	dotlock_drop(lk);
	free(lk->dotname);
	lk->dotname = NULL;
}

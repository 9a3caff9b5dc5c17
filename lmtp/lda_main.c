/* haven-deliver: a local delivery agent for MTAs that run a command per
 * message (Postfix mailbox_command, procmail, Exim's pipe transport):
 *
 *   haven-deliver [-c CONF] [-a ADDRESS] [-f SENDER] [-m MAILBOX] -d USER < message
 *
 * It is a client of havend's LMTP listener (the first of lmtp_listen, or
 * ADDRESS: host:port or a unix socket's path), so the message is stored
 * exactly as LMTP stores it: the recipient looked up through the password
 * databases, quota checked, the copy made by the user's own worker. It
 * needs no privilege and reads no mail. The answer is its exit status
 * (sysexits(3)): 0 stored, 67 no such user, 73 refused by the store (over
 * quota, too big), 77 rejected by the user's Sieve script (550 5.7.1:
 * the MTA bounces it with the script's reason, as RFC 5429 2.2 prefers to
 * a rejection message of our own; Dovecot's LDA does the same with -e),
 * 75 try again later (the MTA keeps the message), 64 a bad command line,
 * 78 no LMTP listener configured; the reply's text goes to standard
 * error, where the MTA puts it in its bounce or log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/config.h"
#include "../lib/net.h"

#define EX_OK 0
#define EX_USAGE 64
#define EX_NOUSER 67
#define EX_CANTCREAT 73
#define EX_NOPERM 77
#define EX_TEMPFAIL 75
#define EX_CONFIG 78

struct lda {
	const char *conf, *address, *sender, *mailbox, *user;
	FILE *in, *out;          /* the connection */
};

static void __attribute__((noreturn)) give_up(int status, const char *fmt, const char *arg)
{
	fprintf(stderr, "haven-deliver: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(status);
}

static void usage(void)
{
	give_up(EX_USAGE, "%s", "usage: haven-deliver [-c CONF] [-a ADDRESS] [-f SENDER] "
				"[-m MAILBOX] -d USER < message");
}

static void parse_args(int argc, char **argv, struct lda *l)
{
	int c;

	l->conf = HAVEN_SYSCONFDIR "/haven.conf";
	l->sender = getenv("SENDER") ? getenv("SENDER") : "";
	while ((c = getopt(argc, argv, "c:a:f:m:d:")) != -1) {
		switch (c) {
		case 'c': l->conf = optarg; break;
		case 'a': l->address = optarg; break;
		case 'f': l->sender = optarg; break;
		case 'm': l->mailbox = optarg; break;
		case 'd': l->user = optarg; break;
		default: usage();
		}
	}
	if (l->user == NULL || l->user[0] == '\0' || optind != argc)
		usage();
}

/* The first lmtp_listen address of the configuration (a copy). */
static char *configured_address(const char *path)
{
	struct config cfg;
	struct buf text = BUF_INIT;
	struct error err;
	char *addr = NULL;

	config_init(&cfg);
	if (config_read_file(path, &text, &err) < 0 ||
	    config_parse(&cfg, text.data ? text.data : "", text.len, path, &err) < 0)
		give_up(EX_CONFIG, "%s (or give the LMTP address with -a)", err.msg);
	size_t n = strcspn(cfg.lmtp_listen, ",");
	while (n > 0 && (cfg.lmtp_listen[n - 1] == ' ' || cfg.lmtp_listen[n - 1] == '\t'))
		n--;
	if (n > 0)
		addr = strndup(cfg.lmtp_listen + strspn(cfg.lmtp_listen, " \t"),
			       n - strspn(cfg.lmtp_listen, " \t"));
	config_free(&cfg);
	buf_free(&text);
	if (addr == NULL)
		give_up(EX_CONFIG, "%s sets no lmtp_listen", path);
	return addr;
}

static void lda_connect(struct lda *l)
{
	char *addr = l->address ? strdup(l->address) : configured_address(l->conf);
	int fd = addr ? net_connect(addr) : -1;
	int e = errno;

	free(addr);
	if (fd < 0)
		give_up(EX_TEMPFAIL, "cannot reach havend's LMTP listener: %s", strerror(e));
	l->in = fdopen(fd, "r");
	l->out = fdopen(dup(fd), "w");
	if (l->in == NULL || l->out == NULL)
		give_up(EX_TEMPFAIL, "%s", "out of memory");
}

/* One reply (the last line of a multi-line one kept in line): its code. */
static int reply(struct lda *l, char *line, size_t size)
{
	do {
		if (fgets(line, (int)size, l->in) == NULL)
			give_up(EX_TEMPFAIL, "%s", "havend closed the LMTP connection");
	} while (strlen(line) > 3 && line[3] == '-');
	line[strcspn(line, "\r\n")] = '\0';
	return atoi(line);
}

/* Send a command and expect a code of the class want (2 or 3). */
static void step(struct lda *l, int want, const char *fmt, const char *a, const char *b)
{
	char line[1024];
	int code;

	fprintf(l->out, fmt, a, b);
	fputs("\r\n", l->out);
	fflush(l->out);
	code = reply(l, line, sizeof(line));
	if (code / 100 == want)
		return;
	fprintf(stderr, "haven-deliver: %s\n", line);
	exit(code == 550 && strstr(line, "5.1.1") ? EX_NOUSER
	     : code == 550 && strstr(line, "5.7.1") ? EX_NOPERM
	     : code / 100 == 5 ? EX_CANTCREAT : EX_TEMPFAIL);
}

/* The message from standard input as DATA carries it: a leading "From "
 * line (an mbox separator some MTAs pass on) left out, lines ending in
 * CRLF, dot-stuffed. */
static void send_message(struct lda *l)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int first = 1;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (first && strncmp(line, "From ", 5) == 0) {
			first = 0;
			continue;
		}
		first = 0;
		if (line[0] == '.')
			fputc('.', l->out);
		if (line[n - 1] == '\n')
			n -= n > 1 && line[n - 2] == '\r' ? 2 : 1;
		fwrite(line, 1, (size_t)n, l->out);
		fputs("\r\n", l->out);
	}
	free(line);
	if (ferror(stdin))
		give_up(EX_TEMPFAIL, "reading the message: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct lda l = { 0 };
	char rcpt[1024];

	parse_args(argc, argv, &l);
	if (l.mailbox)  /* user+mailbox: the detail LMTP stores into */
		snprintf(rcpt, sizeof(rcpt), "%.*s+%s%s", (int)strcspn(l.user, "@"), l.user,
			 l.mailbox, l.user + strcspn(l.user, "@"));
	else
		snprintf(rcpt, sizeof(rcpt), "%s", l.user);
	lda_connect(&l);
	char greeting[1024];
	if (reply(&l, greeting, sizeof(greeting)) != 220)
		give_up(EX_TEMPFAIL, "LMTP greeting: %s", greeting);
	step(&l, 2, "LHLO %s%s", "localhost", "");
	step(&l, 2, "MAIL FROM:<%s>%s", l.sender, " SMTPUTF8");
	step(&l, 2, "RCPT TO:<%s>%s", rcpt, "");
	step(&l, 3, "DATA%s%s", "", "");
	send_message(&l);
	step(&l, 2, ".%s%s", "", "");
	fprintf(l.out, "QUIT\r\n");
	fclose(l.out);
	fclose(l.in);
	return EX_OK;
}

#include "secret.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* One line of fp into out without its line end: its length, or -1 after
 * printing why. */
static long line_read(FILE *fp, char *out, size_t cap)
{
	size_t n = 0;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (c == '\0' || n + 1 >= cap || n >= SECRET_MAX) {
			fprintf(stderr, "haven-admin: password too long or holds a NUL byte\n");
			return -1;
		}
		out[n++] = (char)c;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	if (c == EOF && n == 0) {
		fprintf(stderr, "haven-admin: no password on standard input\n");
		return -1;
	}
	return (long)n;
}

/* Prompt on the terminal of stdin with its echo off (restored after). */
static long tty_read(const char *prompt, char *out, size_t cap)
{
	struct termios old, quiet;
	long n;

	if (tcgetattr(STDIN_FILENO, &old) < 0) {
		perror("haven-admin: terminal");
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
		perror("haven-admin: terminal");
		return -1;
	}
	n = line_read(stdin, out, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return n;
}

int secret_read(const char *prompt, int confirm, char *out, size_t cap)
{
	char again[SECRET_MAX + 2];
	int tty = isatty(STDIN_FILENO);
	long n = tty ? tty_read(prompt, out, cap) : line_read(stdin, out, cap);
	int rc = 0;

	if (n < 0)
		return -1;
	if (n == 0) {
		fprintf(stderr, "haven-admin: empty password refused\n");
		return -1;
	}
	if (tty && confirm) {
		if (tty_read("Again: ", again, sizeof(again)) < 0 || strcmp(again, out) != 0) {
			fprintf(stderr, "haven-admin: the passwords differ\n");
			rc = -1;
		}
		explicit_bzero(again, sizeof(again));
	}
	return rc;
}

/* Passwords for haven-admin: from the terminal without echo, or from
 * stdin when it is not a terminal (scripts); never from argv, where `ps`
 * would show them. */
#ifndef HAVEN_ADMIN_SECRET_H
#define HAVEN_ADMIN_SECRET_H
#include <stddef.h>

/* Longest password accepted (bytes, without the newline). */
#define SECRET_MAX 1024

/* One password into out (cap > SECRET_MAX): on a terminal prompt for it
 * (twice when confirm, both must match), else one line of stdin. 0, or
 * -1 after printing why (empty, too long, NUL, mismatch, end of input). */
int secret_read(const char *prompt, int confirm, char *out, size_t cap);

#endif

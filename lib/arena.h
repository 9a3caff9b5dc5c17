/* Region allocator for per-command data: everything a command parses and
 * builds is freed at once when it completes, so handlers never free. */
#ifndef HAVEN_ARENA_H
#define HAVEN_ARENA_H
#include <stddef.h>

struct arena;

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Free everything allocated so far but keep the first block for reuse. */
void arena_reset(struct arena *a);
void *arena_alloc(struct arena *a, size_t n);      /* zeroed, 16-aligned */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Total bytes handed out since the last reset (for per-command limits). */
size_t arena_used(const struct arena *a);

#endif

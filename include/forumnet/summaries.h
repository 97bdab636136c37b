#ifndef FORUMNET_SUMMARIES_H
#define FORUMNET_SUMMARIES_H

#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

/* Manager summaries without HTTP in sight, so that they can be unit tested: the window
 * (summaries_policy.c), suppression of small counts (summaries_policy.c) and the CSV form
 * (summaries_csv.c). */

/* The shortest window a summary covers, in whole UTC days (API.md section 8). */
#define SUMMARY_MIN_WINDOW_DAYS 7

/* The window a summary is computed over, from the one asked for (epoch seconds, from < to):
 * from rounded down to 00:00Z, to rounded up to the next 00:00Z (unchanged when already there),
 * then, when that is shorter than SUMMARY_MIN_WINDOW_DAYS, from moved back until it is not. So
 * windows that differ inside the same days give the same figures (no differencing below a day,
 * nor inside a week). Kept within 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
void summaries_window_widen(long long from_s, long long to_s, long long *used_from_s, long long *used_to_s);

/* A summary's window: as asked (defaults filled in) and as used, RFC 3339 UTC whole seconds. */
typedef struct summary_window {
  char from[32], to[32];           /* echoed as "from" and "to" */
  char used_from[32], used_to[32]; /* echoed as "window": {"from", "to"}, and the figures' window */
} summary_window;

/* The window asked for, [from_us, to_us) in microseconds since the epoch (from_us < to_us), as
 * echoed (whole seconds, the partial second dropped) and as used (summaries_window_widen). */
void summaries_window_make(long long from_us, long long to_us, summary_window *w);

/* One site's summary object from row `row` of a summaries_db_figures() result, suppression
 * applied at `threshold`. NULL when memory runs out (never a partial object). New reference. */
json_t *summaries_object(PGresult *res, int row, const summary_window *w, unsigned threshold);

/* The CSV form (RFC 4180, CRLF records, a header row) of an array of summary objects: NUL-terminated,
 * its length in *len. A text cell starting with '=', '+', '-', '@', tab or CR is prefixed with '\''
 * (no formula injection); numbers are never prefixed. NULL when memory runs out. Caller frees. */
char *summaries_csv(const json_t *items, size_t *len);

#endif

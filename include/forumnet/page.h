#ifndef FORUMNET_PAGE_H
#define FORUMNET_PAGE_H

/* A keyset page position: what the HTTP layer parses from ?limit=/?cursor= and the data layer
 * turns into "WHERE (created_at, id) > ... LIMIT ...". Replies are pagination.h. */

#include <stddef.h>

#include "forumnet/status.h"

#define PAGE_DEFAULT_LIMIT 50
#define PAGE_MAX_LIMIT 200

/* A keyset position: items strictly after (after_ts, after_id) in (created_at, id) order.
 * Without a cursor the position is before everything, so one index range scan serves
 * the first page and every later one alike. */
typedef struct page_request {
  int limit;
  char after_ts[40]; /* "2026-11-22T10:00:00.123456Z" or "-infinity" */
  char after_id[37];
  char limit_plus_one[16]; /* text parameter for LIMIT: one extra row tells if a next page exists */
} page_request;

/* Parses ?limit= and ?cursor= (either may be NULL). On FN_INVALID *field names the bad one. */
fn_status page_parse(const char *limit, const char *cursor, page_request *out, const char **field);

/* Encodes a cursor_key() value ("<timestamp>|<uuid>") as an opaque cursor into out. */
void page_cursor_encode(const char *key, char *out, size_t out_len);

#endif

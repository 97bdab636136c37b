#ifndef FORUMNET_PAGINATION_H
#define FORUMNET_PAGINATION_H

#include <libpq-fe.h>

#include "forumnet/http.h"
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

/* Replies 200 {"items":[...],"next_cursor":...} from rows whose column json_col is an
 * item's JSON text and key_col its cursor_key(). Uses at most page->limit rows. */
void page_reply(fn_req *req, PGresult *res, int json_col, int key_col, const page_request *page);

/* page_reply with more members before "items": members is JSON object members text, each
 * followed by a comma (e.g. "\"current_version\":2,"), or "". */
void page_reply_with(fn_req *req, PGresult *res, int json_col, int key_col, const page_request *page,
                     const char *members);

/* Parses ?limit=/?cursor= from the request; on failure replies 400 and returns FN_INVALID. */
fn_status page_from_request(fn_req *req, page_request *out);

#endif

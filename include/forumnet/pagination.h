#ifndef FORUMNET_PAGINATION_H
#define FORUMNET_PAGINATION_H

#include <libpq-fe.h>

/* Paged list replies (API.md section 1); the keyset position itself is page.h. */
#include "forumnet/http.h"
#include "forumnet/page.h"
#include "forumnet/status.h"

/* Replies 200 {"items":[...],"next_cursor":...} from a page statement's rows: column 0 the row's
 * cursor_key(), the other columns the item's fields, written as one JSON object a row (db_row_json).
 * Uses at most page->limit rows. */
void page_reply(fn_req *req, PGresult *res, const page_request *page);

/* page_reply with more members before "items": members is JSON object members text, each
 * followed by a comma (e.g. "\"current_version\":2,"), or ""; the item's fields are the columns from
 * first_field on (1 in page_reply: columns between the key and them are the handler's own). */
void page_reply_with(fn_req *req, PGresult *res, const page_request *page, const char *members, int first_field);

/* Ends a list handler: replies the page of res when st is FN_OK, else returns st. Clears res either
 * way. (An empty page needs no check of the caller: the dispatcher re-reads the token's subject on
 * every request, so a member suspended since the token was issued never gets this far.) */
fn_status page_reply_result(fn_req *req, fn_status st, PGresult *res, const page_request *page);

/* Parses ?limit=/?cursor= from the request; FN_INVALID with the field error attached. */
fn_status page_from_request(fn_req *req, page_request *out);

/* The opening of a list handler, in the order the API answers: ?limit=/?cursor= (page_from_request), then
 * the errors of the handler's own filters (filter_errors, stolen; NULL when they are valid), then the
 * connection (req_db). */
fn_status page_open(fn_req *req, page_request *page, json_t *filter_errors, db_conn **db);

/* page_open for a collection under a parent (/v1/groups/{group_id}/meetings): first the parent's path id
 * (param; not_found is the 404's detail for an id that cannot exist), *parent_id borrowed from the request. */
fn_status page_open_under(fn_req *req, const char *param, const char *not_found, const char **parent_id,
                          page_request *page, json_t *filter_errors, db_conn **db);

#endif

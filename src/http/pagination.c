#include "forumnet/pagination.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

/* A cursor key looks like "2026-11-22T10:00:00.123456Z|<uuid>"; anything else is rejected
 * before it reaches SQL. */
static int valid_timestamp(const char *ts) {
  static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
  if (strlen(ts) != sizeof shape - 1)
    return 0;
  for (size_t i = 0; i < sizeof shape - 1; i++) {
    if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) : ts[i] != shape[i])
      return 0;
  }
  return 1;
}

fn_status page_parse(const char *limit, const char *cursor, page_request *out, const char **field) {
  memset(out, 0, sizeof *out);
  out->limit = PAGE_DEFAULT_LIMIT;
  strcpy(out->after_ts, "-infinity");
  strcpy(out->after_id, "00000000-0000-0000-0000-000000000000");
  if (limit != NULL) {
    char *end = NULL;
    long n = strtol(limit, &end, 10);
    if (*limit == '\0' || *end != '\0' || !isdigit((unsigned char)*limit) || n < 1 || n > PAGE_MAX_LIMIT) {
      *field = "limit";
      return FN_INVALID;
    }
    out->limit = (int)n;
  }
  snprintf(out->limit_plus_one, sizeof out->limit_plus_one, "%d", out->limit + 1);
  if (cursor != NULL) {
    unsigned char key[128];
    size_t key_len = 0;
    size_t cursor_len = strlen(cursor);
    if (cursor_len == 0 || cursor_len > 120 ||
        sodium_base642bin(key, sizeof key - 1, cursor, cursor_len, NULL, &key_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
      *field = "cursor";
      return FN_INVALID;
    }
    key[key_len] = '\0';
    char *bar = strchr((char *)key, '|');
    if (bar == NULL || (size_t)(bar - (char *)key) >= sizeof out->after_ts) {
      *field = "cursor";
      return FN_INVALID;
    }
    *bar = '\0';
    /* The shape alone lets "2026-13-45T25:61:61.000000Z" through, which PostgreSQL refuses (a 500):
     * the instant must be a real one (found by tests/fuzz/fuzz_cursor). */
    if (!valid_timestamp((char *)key) || !rfc3339_parse((char *)key, NULL) || !text_is_uuid(bar + 1)) {
      *field = "cursor";
      return FN_INVALID;
    }
    strcpy(out->after_ts, (char *)key);
    strcpy(out->after_id, bar + 1);
  }
  return FN_OK;
}

void page_cursor_encode(const char *key, char *out, size_t out_len) {
  sodium_bin2base64(out, out_len, (const unsigned char *)key, strlen(key), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

fn_status page_from_request(fn_req *req, page_request *out) {
  const char *field = NULL;
  if (page_parse(req_query(req, "limit"), req_query(req, "cursor"), out, &field) == FN_OK)
    return FN_OK;
  return req_invalid_field(
      req, field, strcmp(field, "limit") == 0 ? "must be a whole number from 1 to 200" : "is not a valid cursor");
}

/* A page statement answers the row's cursor key in column 0 and the item's fields in the others; each row
 * is written as an object of those fields (db_row_json). */
void page_reply(fn_req *req, PGresult *res, const page_request *page) { page_reply_with(req, res, page, "", 1); }

void page_reply_with(fn_req *req, PGresult *res, const page_request *page, const char *members, int first_field) {
  int rows = PQntuples(res), fields = PQnfields(res);
  int shown = rows > page->limit ? page->limit : rows;
  db_json_kind kinds[64];
  if (first_field < 1 || fields <= first_field || fields - first_field > (int)(sizeof kinds / sizeof kinds[0]) ||
      db_row_json_kinds(res, first_field, fields, kinds) != FN_OK) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  strbuf body = STRBUF_INIT;
  strbuf_reserve(&body, 256 + (size_t)shown * 256);
  strbuf_puts(&body, "{");
  strbuf_puts(&body, members);
  strbuf_puts(&body, "\"items\":[");
  for (int i = 0; i < shown; i++) {
    if (i > 0)
      strbuf_append(&body, ",", 1);
    db_row_json(&body, res, i, first_field, fields, kinds);
  }
  if (rows > page->limit && shown > 0) {
    char cursor[256];
    page_cursor_encode(PQgetvalue(res, shown - 1, 0), cursor, sizeof cursor);
    strbuf_printf(&body, "],\"next_cursor\":\"%s\"}", cursor);
  } else {
    strbuf_puts(&body, "],\"next_cursor\":null}");
  }
  size_t len = 0;
  char *text = strbuf_finish(&body, &len);
  if (text == NULL) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  reply_json_text(req, 200, text, len);
  free(text);
}

fn_status page_reply_result(fn_req *req, fn_status st, PGresult *res, const page_request *page) {
  if (st == FN_OK)
    page_reply(req, res, page);
  PQclear(res);
  return st;
}

fn_status page_open(fn_req *req, page_request *page, json_t *filter_errors, db_conn **db) {
  fn_status st = page_from_request(req, page);
  if (st != FN_OK) {
    json_decref(filter_errors);
    return st;
  }
  return filter_errors != NULL ? req_invalid(req, filter_errors) : req_db(req, db);
}

fn_status page_open_under(fn_req *req, const char *param, const char *not_found, const char **parent_id,
                          page_request *page, json_t *filter_errors, db_conn **db) {
  fn_status st = req_path_id(req, param, not_found, parent_id);
  if (st != FN_OK) {
    json_decref(filter_errors);
    return st;
  }
  return page_open(req, page, filter_errors, db);
}

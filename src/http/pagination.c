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

/* Items are already JSON text built by PostgreSQL; they are joined, not re-parsed. */
void page_reply(fn_req *req, PGresult *res, int json_col, int key_col, const page_request *page) {
  page_reply_with(req, res, json_col, key_col, page, "");
}

void page_reply_with(fn_req *req, PGresult *res, int json_col, int key_col, const page_request *page,
                     const char *members) {
  int rows = PQntuples(res);
  int shown = rows > page->limit ? page->limit : rows;
  size_t members_len = strlen(members);
  size_t total = 64 + members_len;
  for (int i = 0; i < shown; i++)
    total += (size_t)PQgetlength(res, i, json_col) + 1;
  char cursor[256] = "";
  if (rows > page->limit && shown > 0)
    page_cursor_encode(PQgetvalue(res, shown - 1, key_col), cursor, sizeof cursor);
  total += strlen(cursor);
  char *buf = malloc(total);
  if (buf == NULL) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  size_t off = 0;
  buf[off++] = '{';
  memcpy(buf + off, members, members_len);
  off += members_len;
  memcpy(buf + off, "\"items\":[", 9);
  off += 9;
  for (int i = 0; i < shown; i++) {
    if (i > 0)
      buf[off++] = ',';
    size_t len = (size_t)PQgetlength(res, i, json_col);
    memcpy(buf + off, PQgetvalue(res, i, json_col), len);
    off += len;
  }
  if (cursor[0])
    off += (size_t)snprintf(buf + off, total - off, "],\"next_cursor\":\"%s\"}", cursor);
  else
    off += (size_t)snprintf(buf + off, total - off, "],\"next_cursor\":null}");
  reply_json_text(req, 200, buf, off);
  free(buf);
}

fn_status page_reply_result(fn_req *req, fn_status st, PGresult *res, const page_request *page) {
  if (st == FN_OK)
    page_reply(req, res, 0, 1, page);
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

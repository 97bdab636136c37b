/* Reading statements' answers: the row readers (db_value_*), taking a one-row answer (db_take_*),
 * and the shorthands that run a statement and read its row or its one value (declared in db.h).
 * pool.c runs the statements; nothing here touches a connection but through db_exec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/db.h"

char *db_value_dup(const PGresult *res, int row, int col) {
  return strndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

long db_value_long(const PGresult *res, int row, int col) { return strtol(PQgetvalue(res, row, col), NULL, 10); }

int db_value_bool(const PGresult *res, int row, int col) { return PQgetvalue(res, row, col)[0] == 't'; }

void db_value_copy(const PGresult *res, int row, int col, char *out, size_t out_size) {
  snprintf(out, out_size, "%s", PQgetvalue(res, row, col));
}

char *db_value_or_null(const PGresult *res, int row, int col, fn_status *st) {
  if (PQgetisnull(res, row, col))
    return NULL;
  char *v = db_value_dup(res, row, col);
  if (v == NULL)
    *st = FN_INTERNAL;
  return v;
}

fn_status db_take_row(PGresult *res, const db_column *cols, void *out) {
  char *base = out;
  fn_status st = FN_OK;
  for (int col = 0; cols[col].kind != DB_KIND_END; col++) {
    void *field = base + cols[col].offset;
    switch (cols[col].kind) {
    case DB_KIND_TEXT:
      db_value_copy(res, 0, col, field, cols[col].size);
      break;
    case DB_KIND_DUP:
      if ((*(char **)field = db_value_dup(res, 0, col)) == NULL)
        st = FN_INTERNAL;
      break;
    case DB_KIND_LONG:
      *(long *)field = db_value_long(res, 0, col);
      break;
    case DB_KIND_INT:
      *(int *)field = (int)db_value_long(res, 0, col);
      break;
    case DB_KIND_BOOL:
      *(int *)field = db_value_bool(res, 0, col);
      break;
    case DB_KIND_ROLE:
      *(member_role *)field = role_from_string(PQgetvalue(res, 0, col));
      break;
    default: /* DB_KIND_SKIP */
      break;
    }
  }
  PQclear(res);
  return st;
}

fn_status db_query_row(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status when_no_row,
                       const db_column *cols, void *out) {
  fn_status st;
  PGresult *res = db_exec_row(c, stmt, nparams, params, when_no_row, &st);
  return res == NULL ? st : db_take_row(res, cols, out);
}

fn_status db_query_optional_row(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params,
                                const db_column *cols, void *out, int *found) {
  fn_status st = db_query_row(c, stmt, nparams, params, FN_NOT_FOUND, cols, out);
  if (found != NULL)
    *found = st == FN_OK;
  return st == FN_NOT_FOUND ? FN_OK : st;
}

fn_status db_exec_on(db_conn *c, const db_stmt *stmt, const char *param) {
  const char *params[] = {param};
  return db_exec_command(c, stmt, 1, params);
}

PGresult *db_exec_row(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status when_no_row,
                      fn_status *st) {
  PGresult *res = db_exec(c, stmt, nparams, params, st);
  if (res != NULL && PQntuples(res) == 0) {
    PQclear(res);
    res = NULL;
    *st = when_no_row;
  }
  return res;
}

PGresult *db_exec_found(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status when_no_row,
                        fn_status *st) {
  PGresult *res = db_exec_row(c, stmt, nparams, params, when_no_row, st);
  if (res != NULL && !db_value_bool(res, 0, 0)) {
    PQclear(res);
    res = NULL;
    *st = FN_NOT_FOUND;
  }
  return res;
}

PGresult *db_exec_found_locked(db_conn *c, const db_stmt *lock, const char *id, const db_stmt *stmt, int nparams,
                               const char *const *params, fn_status when_no_row, fn_status *st) {
  if (lock != NULL && (*st = db_exec_on(c, lock, id)) != FN_OK)
    return NULL;
  return db_exec_found(c, stmt, nparams, params, when_no_row, st);
}

fn_status db_query_rows(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, PGresult **out) {
  fn_status st;
  *out = db_exec(c, stmt, nparams, params, &st);
  return st;
}

fn_status db_query_page(db_conn *c, const db_stmt *stmt, const char *owner_id, const page_request *page,
                        PGresult **out) {
  return db_query_rows(c, stmt, DB_ARGS(owner_id, page->after_ts, page->after_id, page->limit_plus_one), out);
}

fn_status db_query_json(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, json_t **out) {
  fn_status st;
  *out = NULL;
  PGresult *res = db_exec(c, stmt, nparams, params, &st);
  if (res == NULL)
    return st;
  if (PQntuples(res) > 0)
    *out = json_loadb(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), 0, NULL);
  PQclear(res);
  return FN_OK;
}

const char *db_param_present(const json_t *body, const char *key) {
  return json_object_get(body, key) != NULL ? "true" : "false";
}

fn_status db_take_text(PGresult *res, int col, char **out) {
  *out = db_value_dup(res, 0, col);
  PQclear(res);
  return *out != NULL ? FN_OK : FN_INTERNAL;
}

fn_status db_take_copy(PGresult *res, int col, char *out, size_t out_size) {
  db_value_copy(res, 0, col, out, out_size);
  PQclear(res);
  return FN_OK;
}

fn_status db_take_representation(PGresult *res, int col, char **json, long *version) {
  if (PQntuples(res) == 0) {
    PQclear(res);
    return FN_NOT_FOUND;
  }
  *version = db_value_long(res, 0, col + 1);
  return db_take_text(res, col, json);
}

fn_status db_get_representation(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, char **json,
                                long *version) {
  fn_status st;
  PGresult *res = db_exec(c, stmt, nparams, params, &st);
  return res == NULL ? st : db_take_representation(res, 0, json, version);
}

fn_status db_insert_representation(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, char **json,
                                   long *version, char id_out[UUID_TEXT_SIZE]) {
  fn_status st;
  PGresult *res = db_exec_row(c, stmt, nparams, params, FN_NOT_FOUND, &st);
  if (res == NULL)
    return st;
  db_value_copy(res, 0, 2, id_out, UUID_TEXT_SIZE);
  return db_take_representation(res, 0, json, version);
}

fn_status db_query_text(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, fn_status when_no_row,
                        char **out) {
  fn_status st;
  PGresult *res = db_exec_row(c, stmt, nparams, params, when_no_row, &st);
  return res == NULL ? st : db_take_text(res, 0, out);
}

fn_status db_query_copy(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, char *out,
                        size_t out_size) {
  fn_status st;
  PGresult *res = db_exec(c, stmt, nparams, params, &st);
  if (res == NULL)
    return st;
  if (PQntuples(res) > 0)
    db_value_copy(res, 0, 0, out, out_size);
  else if (out_size > 0)
    out[0] = '\0';
  PQclear(res);
  return FN_OK;
}

/* The bool and long readers go through the text, "" when there is no row: false and 0. */
fn_status db_query_bool(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, int *out) {
  char text[2];
  fn_status st = db_query_copy(c, stmt, nparams, params, text, sizeof text);
  if (st == FN_OK)
    *out = text[0] == 't';
  return st;
}

fn_status db_query_long(db_conn *c, const db_stmt *stmt, int nparams, const char *const *params, long *out) {
  char text[24]; /* a bigint's 20 characters */
  fn_status st = db_query_copy(c, stmt, nparams, params, text, sizeof text);
  if (st == FN_OK)
    *out = strtol(text, NULL, 10);
  return st;
}

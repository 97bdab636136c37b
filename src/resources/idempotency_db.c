/* Idempotency-Key records: every SQL statement about them. */
#include "forumnet/idempotency_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Expired records are removed first, so an old key is simply new again. The claim's transaction
 * lasts as long as the request's work: rows another request is already deleting are skipped, not
 * waited for (else every keyed POST would queue behind the slowest one), and a few at a time. */
static const db_stmt expire = {"idempotency_expire",
                               "DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys"
                               " WHERE created_at < now() - interval '48 hours' LIMIT 100 FOR UPDATE SKIP LOCKED))"};

static const db_stmt claim = {"idempotency_claim",
                              "INSERT INTO idempotency_keys (client_id, key, request_hash) VALUES ($1, $2, $3)"
                              " ON CONFLICT DO NOTHING RETURNING 1"};

/* Columns: same request, code, sealed body, Location, ETag (the last three NULL when absent). */
static const db_stmt stored = {"idempotency_stored",
                               "SELECT request_hash = $3, coalesce(response_code, 0), response_sealed,"
                               " response_location, response_etag FROM idempotency_keys"
                               " WHERE client_id = $1 AND key = $2"};

fn_status idempotency_db_claim(db_conn *db, const char *client_id, const char *key, const char *request_hash,
                               idempotency_record *out) {
  fn_status st;
  const char *params[] = {client_id, key, request_hash};
  memset(out, 0, sizeof *out);
  if ((st = db_exec_command(db, &expire, 0, NULL)) != FN_OK)
    return st;
  PGresult *res = db_exec(db, &claim, 3, params, &st);
  if (res == NULL)
    return st;
  int inserted = PQntuples(res) > 0;
  PQclear(res);
  if (inserted) {
    out->state = IDEMPOTENCY_NEW;
    return FN_OK;
  }
  /* FN_CONFLICT when it expired between the two statements: let the client retry */
  if ((res = db_exec_row(db, &stored, 3, params, FN_CONFLICT, &st)) == NULL)
    return st;
  if (!db_value_bool(res, 0, 0)) {
    out->state = IDEMPOTENCY_MISMATCH;
  } else {
    out->state = IDEMPOTENCY_REPLAY;
    out->response_code = (int)db_value_long(res, 0, 1);
    out->sealed_body = db_value_or_null(res, 0, 2, &st);
    out->location = db_value_or_null(res, 0, 3, &st);
    out->etag = db_value_or_null(res, 0, 4, &st);
    if (st != FN_OK)
      idempotency_record_free(out);
  }
  PQclear(res);
  return st;
}

static const db_stmt store = {"idempotency_store",
                              "UPDATE idempotency_keys SET response_code = $3, response_sealed = $4,"
                              " response_location = $5, response_etag = $6 WHERE client_id = $1 AND key = $2"};

fn_status idempotency_db_store(db_conn *db, const char *client_id, const char *key, int response_code,
                               const char *sealed_body, const char *location, const char *etag) {
  char code[16];
  snprintf(code, sizeof code, "%d", response_code);
  return db_exec_command(db, &store, DB_ARGS(client_id, key, code, sealed_body, location, etag));
}

void idempotency_record_free(idempotency_record *rec) {
  free(rec->sealed_body);
  free(rec->location);
  free(rec->etag);
  rec->sealed_body = rec->location = rec->etag = NULL;
}

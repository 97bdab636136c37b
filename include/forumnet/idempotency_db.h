#ifndef FORUMNET_IDEMPOTENCY_DB_H
#define FORUMNET_IDEMPOTENCY_DB_H

#include "forumnet/db.h"

/* Idempotency-Key records (kept 48 hours, per client). */
typedef enum idempotency_state {
  IDEMPOTENCY_NEW,      /* first use: the caller does the work and stores the answer */
  IDEMPOTENCY_REPLAY,   /* same key, same request: replay the stored answer */
  IDEMPOTENCY_MISMATCH, /* same key, another request: 422 */
} idempotency_state;

typedef struct idempotency_record {
  idempotency_state state;
  int response_code;
  /* REPLAY only; the caller frees them (NULL when the answer had none). */
  char *sealed_body; /* the body as stored (sealed by the request layer) */
  char *location;
  char *etag;
} idempotency_record;

/* Claims (client, key) for a request whose canonical digest is request_hash, inside the
 * request's transaction. A concurrent request with the same key waits here until the first
 * commits (the primary key's lock) and then sees its stored answer: exactly one does the work. */
fn_status idempotency_db_claim(db_conn *db, const char *client_id, const char *key, const char *request_hash,
                               idempotency_record *out);
/* Stores the answer of a NEW claim, in the same transaction as the work. */
fn_status idempotency_db_store(db_conn *db, const char *client_id, const char *key, int response_code,
                               const char *sealed_body, const char *location, const char *etag);
void idempotency_record_free(idempotency_record *rec);

#endif

/* Idempotency-Key on every POST that creates something (ROUTE_IDEMPOTENT routes; API.md section 1).
 * One mechanism for all of them, around the handler rather than inside it: the key is claimed in a
 * transaction held open across the handler (db_hold_begin: the handler's db_begin joins it, its
 * db_commit is deferred), and a 2xx answer (status, body, Location, ETag) is stored in that same
 * transaction before it commits. So the work and its stored answer commit together or not at all;
 * a retry with the same key and request replays the answer; the same key with another body or on
 * another route is 422; a concurrent duplicate waits on the claim's primary-key lock and then
 * replays. Answers other than 2xx are not stored (the transaction is rolled back, the key is free).
 * Keys are scoped per caller (member or partner id). Stored bodies are sealed: some carry a secret
 * shown once (a one-time password, a partner's client_secret). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

#include "forumnet/http.h"
#include "forumnet/idempotency_db.h"
#include "forumnet/password.h"

/* 1..200 printable ASCII characters. */
static int valid_key(const char *key) {
  size_t len = strlen(key);
  if (len == 0 || len > 200)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (key[i] < 0x21 || key[i] > 0x7e)
      return 0;
  return 1;
}

/* The request in canonical form: method, path and the JSON body with sorted keys (so the same
 * JSON spelled otherwise is the same request). 0 when out of memory. */
static int request_digest(const fn_req *req, char out[65]) {
  char *body = req->body ? json_dumps(req->body, JSON_COMPACT | JSON_SORT_KEYS) : strdup("");
  const char *path = req->u->url_path ? req->u->url_path : "";
  size_t len = body ? strlen(req->u->http_verb) + strlen(path) + strlen(body) + 3 : 0;
  char *text = body ? malloc(len) : NULL;
  if (text != NULL)
    snprintf(text, len, "%s\n%s\n%s", req->u->http_verb, path, body);
  free(body);
  if (text == NULL)
    return 0;
  token_digest_hex(text, out);
  free(text);
  return 1;
}

/* The sealing key: keyed by the server's secret, bound to the caller and the Idempotency-Key. */
static void seal_key(const fn_req *req, const char *key, unsigned char out[crypto_secretbox_KEYBYTES]) {
  unsigned char server[crypto_generichash_KEYBYTES];
  crypto_generichash(server, sizeof server, req->app->cfg.jwt_secret, req->app->cfg.jwt_secret_len, NULL, 0);
  crypto_generichash_state s;
  crypto_generichash_init(&s, server, sizeof server, crypto_secretbox_KEYBYTES);
  crypto_generichash_update(&s, (const unsigned char *)"forumnet idempotency v1", 24);
  crypto_generichash_update(&s, (const unsigned char *)req->caller.id, strlen(req->caller.id) + 1);
  crypto_generichash_update(&s, (const unsigned char *)key, strlen(key));
  crypto_generichash_final(&s, out, crypto_secretbox_KEYBYTES);
  sodium_memzero(server, sizeof server);
}

/* base64(nonce || secretbox(body)); NULL when out of memory. Caller frees. */
static char *seal(const fn_req *req, const char *key, const unsigned char *body, size_t len) {
  unsigned char k[crypto_secretbox_KEYBYTES];
  size_t boxed_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
  unsigned char *boxed = malloc(boxed_len);
  size_t text_len = sodium_base64_ENCODED_LEN(boxed_len, sodium_base64_VARIANT_ORIGINAL);
  char *text = boxed ? malloc(text_len) : NULL;
  if (text != NULL) {
    seal_key(req, key, k);
    randombytes_buf(boxed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(boxed + crypto_secretbox_NONCEBYTES, body, len, boxed, k);
    sodium_bin2base64(text, text_len, boxed, boxed_len, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(k, sizeof k);
  }
  free(boxed);
  return text;
}

/* The stored body (NUL-terminated, *len bytes), or NULL when it cannot be opened (the server's
 * secret changed since, or out of memory). Caller frees. */
static char *unseal(const fn_req *req, const char *key, const char *text, size_t *len) {
  size_t max = strlen(text), boxed_len = 0;
  unsigned char *boxed = malloc(max + 1), k[crypto_secretbox_KEYBYTES];
  char *body = NULL;
  if (boxed == NULL ||
      sodium_base642bin(boxed, max + 1, text, max, NULL, &boxed_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      boxed_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    free(boxed);
    return NULL;
  }
  *len = boxed_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
  body = malloc(*len + 1);
  seal_key(req, key, k);
  if (body != NULL && crypto_secretbox_open_easy((unsigned char *)body, boxed + crypto_secretbox_NONCEBYTES,
                                                 boxed_len - crypto_secretbox_NONCEBYTES, boxed, k) == 0) {
    body[*len] = '\0';
  } else {
    free(body);
    body = NULL;
  }
  sodium_memzero(k, sizeof k);
  free(boxed);
  return body;
}

static void replay(fn_req *req, const char *key, idempotency_record *rec) {
  size_t len = 0;
  char *body = rec->sealed_body ? unseal(req, key, rec->sealed_body, &len) : NULL;
  if (body == NULL) {
    reply_problem(req, FN_UNPROCESSABLE,
                  "The answer stored for this Idempotency-Key can no longer be read: send the request with a new key.");
    return;
  }
  if (len == 0)
    reply_empty(req, rec->response_code);
  else
    reply_json_text(req, rec->response_code, body, len);
  if (rec->location)
    reply_header(req, "Location", rec->location);
  if (rec->etag)
    reply_header(req, "ETag", rec->etag);
  reply_header(req, "Idempotent-Replayed", "true");
  free(body);
}

/* Stores the handler's 2xx answer and commits; on failure the reply becomes the failure's problem. */
static void store_and_commit(fn_req *req, db_conn *db, const char *key) {
  const struct _u_response *res = req->res;
  char *sealed = seal(req, key, res->binary_body ? (const unsigned char *)res->binary_body : (const unsigned char *)"",
                      res->binary_body_length);
  fn_status st = sealed ? FN_OK : FN_INTERNAL;
  if (st == FN_OK)
    st = idempotency_db_store(db, req->caller.id, key, req->status, sealed, u_map_get(res->map_header, "Location"),
                              u_map_get(res->map_header, "ETag"));
  free(sealed);
  if (st == FN_OK)
    st = db_hold_end(db, 1);
  if (st != FN_OK) {
    db_rollback(db);
    u_map_remove_from_key(req->res->map_header, "Location");
    u_map_remove_from_key(req->res->map_header, "ETag");
    reply_problem(req, st == FN_CONFLICT ? FN_UNAVAILABLE : st, NULL); /* nothing was created: retry */
  }
}

void req_run_handler(fn_req *req) {
  const char *key = (req->route->flags & ROUTE_IDEMPOTENT) ? req_header(req, "Idempotency-Key") : NULL;
  if (key == NULL) {
    req_reply_failure(req, req->route->handler(req));
    return;
  }
  if (!valid_key(key)) {
    reply_problem(req, FN_INVALID, "Idempotency-Key must be 1 to 200 printable ASCII characters.");
    return;
  }
  char hash[65];
  if (!request_digest(req, hash)) {
    reply_problem(req, FN_INTERNAL, NULL);
    return;
  }
  db_conn *db = NULL;
  idempotency_record rec;
  fn_status st = req_db(req, &db);
  if (st == FN_OK)
    st = db_hold_begin(db);
  if (st == FN_OK)
    st = idempotency_db_claim(db, req->caller.id, key, hash, &rec);
  if (st != FN_OK) {
    req_reply_failure(req, st == FN_CONFLICT ? FN_UNAVAILABLE : st);
    return;
  }
  if (rec.state != IDEMPOTENCY_NEW) {
    db_rollback(db);
    if (rec.state == IDEMPOTENCY_MISMATCH)
      reply_problem(req, FN_UNPROCESSABLE, "This Idempotency-Key was used with a different request body or route.");
    else
      replay(req, key, &rec);
    idempotency_record_free(&rec);
    return;
  }
  req_reply_failure(req, req->route->handler(req));
  /* The handler may have rolled back (a failure: nothing to store) or given the connection back. */
  if (req->db != db || !db_hold_active(db))
    return;
  if (req->status >= 200 && req->status < 300)
    store_and_commit(req, db, key);
  else
    db_hold_end(db, 0);
}

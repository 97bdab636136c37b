#include "forumnet/audit_db.h"

#include <stdlib.h>

static const db_stmt insert_audit = {
    "audit_insert", "INSERT INTO audit_log (actor_id, actor_kind, action, resource_type, resource_id, request_id,"
                    " details) VALUES ($1::uuid, $7, $2, $3, $4, $5, coalesce($6::jsonb, '{}'::jsonb))"};

/* Audit ids are bigints; the shared cursor format carries a UUID, so the id travels as a UUID
 * whose hex digits are the id (lpad(to_hex(id), 32, '0')) and is read back the same way. */
static const db_stmt list_audit = {
    "audit_list", "SELECT cursor_key(a.at, lpad(to_hex(a.id), 32, '0')::uuid), a.id, rfc3339(a.at) AS at, a.actor_id,"
                  " a.actor_kind, a.action, a.resource_type, a.resource_id, a.request_id, a.details"
                  " FROM audit_log a"
                  " WHERE a.id > ('x' || right(replace($1::uuid::text, '-', ''), 16))::bit(64)::bigint"
                  "   AND ($2::uuid IS NULL OR a.actor_id = $2::uuid) AND ($3::text IS NULL OR a.resource_type = $3)"
                  "   AND ($4::text IS NULL OR a.resource_id = $4) AND ($5::text IS NULL OR a.action = $5)"
                  " ORDER BY a.id LIMIT $6"};

fn_status audit_db_list(db_conn *db, const char *actor_id, const char *resource_type, const char *resource_id,
                        const char *action, const page_request *page, PGresult **result) {
  return db_query_rows(db, &list_audit,
                       DB_ARGS(page->after_id, actor_id, resource_type, resource_id, action, page->limit_plus_one),
                       result);
}

fn_status audit_db_record(db_conn *db, const fn_caller *actor, const char *request_id, const char *action,
                          const char *resource_type, const char *resource_id, const json_t *details) {
  int authenticated = actor != NULL && actor->authenticated;
  char *details_text = details ? json_dumps(details, JSON_COMPACT) : NULL;
  fn_status st = db_exec_command(db, &insert_audit,
                                 DB_ARGS(authenticated ? actor->id : NULL, action, resource_type, resource_id,
                                         request_id, details_text,
                                         !authenticated      ? "system"
                                         : actor->is_partner ? "partner"
                                                             : "member"));
  free(details_text);
  return st;
}

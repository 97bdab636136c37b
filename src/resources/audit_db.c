#include "forumnet/audit_db.h"

#include <stdlib.h>

static const db_stmt insert_audit = {
    "audit_insert", "INSERT INTO audit_log (actor_id, actor_kind, action, resource_type, resource_id, request_id,"
                    " details) VALUES ($1::uuid, $7, $2, $3, $4, $5, coalesce($6::jsonb, '{}'::jsonb))"};

fn_status audit_db_record(db_conn *db, const fn_req *req, const char *action, const char *resource_type,
                          const char *resource_id, const json_t *details) {
  char *details_text = details ? json_dumps(details, JSON_COMPACT) : NULL;
  const char *params[] = {req->caller.authenticated ? req->caller.id : NULL,
                          action,
                          resource_type,
                          resource_id,
                          req->request_id,
                          details_text,
                          !req->caller.authenticated ? "system"
                          : req->caller.is_partner   ? "partner"
                                                     : "member"};
  fn_status st = db_exec_command(db, &insert_audit, 7, params);
  free(details_text);
  return st;
}

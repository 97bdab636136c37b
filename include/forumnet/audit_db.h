#ifndef FORUMNET_AUDIT_DB_H
#define FORUMNET_AUDIT_DB_H

#include <jansson.h>

#include "forumnet/db.h"
#include "forumnet/http.h"
#include "forumnet/pagination.h"

/* Writes one audit row for the change req is making. Call inside the change's own
 * transaction so that the row and the change commit or roll back together.
 * details is borrowed and may be NULL. Actor and request id come from req. */
fn_status audit_db_record(db_conn *db, const fn_req *req, const char *action, const char *resource_type,
                          const char *resource_id, const json_t *details);

/* A page of audit rows, oldest first, filtered by actor, resource type, resource id and action
 * (each may be NULL). Columns (json, cursor_key). */
fn_status audit_db_list(db_conn *db, const char *actor_id, const char *resource_type, const char *resource_id,
                        const char *action, const page_request *page, PGresult **result);

#endif

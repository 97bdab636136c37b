#ifndef FORUMNET_AUDIT_DB_H
#define FORUMNET_AUDIT_DB_H

#include <jansson.h>

#include "forumnet/caller.h"
#include "forumnet/db.h"
#include "forumnet/page.h"

/* Writes one audit row for a change that actor (NULL or unauthenticated: the system) makes in the
 * request request_id. Call inside the change's own transaction so that the row and the change
 * commit or roll back together. details is borrowed and may be NULL. Handlers call req_audit. */
fn_status audit_db_record(db_conn *db, const fn_caller *actor, const char *request_id, const char *action,
                          const char *resource_type, const char *resource_id, const json_t *details);

/* A page of audit rows, oldest first, filtered by actor, resource type, resource id and action
 * (each may be NULL). Columns (json, cursor_key). */
fn_status audit_db_list(db_conn *db, const char *actor_id, const char *resource_type, const char *resource_id,
                        const char *action, const page_request *page, PGresult **result);

#endif

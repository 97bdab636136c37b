#ifndef FORUMNET_AUDIT_DB_H
#define FORUMNET_AUDIT_DB_H

#include <jansson.h>

#include "forumnet/db.h"
#include "forumnet/http.h"

/* Writes one audit row for the change req is making. Call inside the change's own
 * transaction so that the row and the change commit or roll back together.
 * details is borrowed and may be NULL. Actor and request id come from req. */
fn_status audit_db_record(db_conn *db, const fn_req *req, const char *action, const char *resource_type,
                          const char *resource_id, const json_t *details);

#endif

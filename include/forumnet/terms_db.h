#ifndef FORUMNET_TERMS_DB_H
#define FORUMNET_TERMS_DB_H

#include <jansson.h>

#include "forumnet/db.h"
#include "forumnet/page.h"

/* One page of a group's Terms, newest first: rows of (Terms JSON, cursor_key,
 * the group's terms_version). Caller PQclear()s. */
fn_status terms_db_list(db_conn *db, const char *group_id, const page_request *page, PGresult **result);
/* One version's Terms. *json: caller frees; FN_NOT_FOUND if none. */
fn_status terms_db_get(db_conn *db, const char *group_id, int version, char **json);

/* Inside a transaction with the group locked: publishes version terms_version + 1 and
 * makes it the group's current version. */
fn_status terms_db_publish(db_conn *db, const char *group_id, const char *body, const char *review_on,
                           const char *author_id, int *version);
/* Records member_id's acceptance of version; *created 0 if it was already recorded. */
fn_status terms_db_accept(db_conn *db, const char *group_id, int version, const char *member_id, int *created);

#endif

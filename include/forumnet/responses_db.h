#ifndef FORUMNET_RESPONSES_DB_H
#define FORUMNET_RESPONSES_DB_H

#include "forumnet/db.h"
#include "forumnet/page.h"

/* A group's place in a consultation, and the caller's place in the group. */
typedef struct response_target {
  int targeted;      /* the consultation asks this group */
  char my_state[16]; /* the caller's membership state in the group, "" if none */
  char my_role[16];  /* ... and role */
  int exists;        /* the group has a response */
  char status[16];   /* draft | submitted */
  long version;
} response_target;

/* Call with the consultation row locked (consultations_db_access(..., lock=1)): that lock
 * serializes every write to the consultation's responses. */
fn_status responses_db_target(db_conn *db, const char *consultation_id, const char *group_id, const char *caller_id,
                              response_target *out);
/* Creates or replaces the group's response. */
fn_status responses_db_upsert(db_conn *db, const char *consultation_id, const char *group_id, const char *answers_json,
                              const char *status);
/* The Response representation. out->json: caller frees. */
fn_status responses_db_get(db_conn *db, const char *consultation_id, const char *group_id, db_representation *out);
/* The group's Response if the caller may read it (the rule of responses_db_list), else
 * FN_NOT_FOUND. out->json: caller frees. */
fn_status responses_db_get_readable(db_conn *db, const char *consultation_id, const char *group_id,
                                    const char *caller_id, int read_submitted, db_representation *out);
/* A page of responses in (created_at, group_id) order: submitted ones when read_submitted, plus
 * the responses of groups where caller_id is an active member. Columns (json, cursor_key). */
fn_status responses_db_list(db_conn *db, const char *consultation_id, const char *caller_id, int read_submitted,
                            const page_request *page, PGresult **result);

#endif

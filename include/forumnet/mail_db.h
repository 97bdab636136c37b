#ifndef FORUMNET_MAIL_DB_H
#define FORUMNET_MAIL_DB_H

#include "forumnet/caller.h"
#include "forumnet/config.h"
#include "forumnet/db.h"
#include "forumnet/jobs.h"

/* Set-password links and the email outbox (tables password_resets and mail_outbox, sql/014_mail.sql). */

/* How long a set-password link is valid: a reset, an invitation (POST /v1/members with send_invite). */
#define PASSWORD_RESET_TTL_SECONDS (30 * 60)
#define PASSWORD_INVITE_TTL_SECONDS (7 * 24 * 3600)

typedef enum password_link_kind { PASSWORD_LINK_RESET, PASSWORD_LINK_INVITE } password_link_kind;

/* For the active member with this email (if any): a new single-use link token (its digest stored) and an
 * email with the link queued (mail_outbox + a 'mail.send' job), in one statement, so an unknown email costs
 * the same work. Runs in the caller's transaction, if any. *queued: 1 when a member was found. */
fn_status mail_db_queue_password_link(const fn_config *cfg, db_conn *db, const char *email, password_link_kind kind,
                                      int *queued);

/* Queues the invitation email of member_id's pending invitation to group_id (POST /v1/groups/{id}/members
 * by a leader), in the caller's transaction; nothing when the member is not active. */
fn_status mail_db_queue_group_invitation(db_conn *db, const char *group_id, const char *member_id);

/* Uses the link token with this digest (and ends the member's other links): *found 0 when it is unknown,
 * used, expired or its member is not active; else member_id is the member's. In a transaction. */
fn_status mail_db_use_password_link(db_conn *db, const char *digest, char member_id[UUID_TEXT_SIZE], int *found);

/* The 'mail.send' job: delivers the outbox row named by the payload's outbox_id and deletes it (a row that
 * no longer exists, e.g. after erasure, is nothing to do). A delivery failure fails the job: the runner
 * retries it with its backoff. */
fn_status mail_jobs_send(db_conn *db, job *j);

#endif

/* Set-password links and the email outbox (include/forumnet/mail_db.h). */
#include "forumnet/mail_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/log.h"
#include "forumnet/mail.h"
#include "forumnet/password.h"
#include "forumnet/strbuf.h"
#include "forumnet/text.h"

/* The 'mail.send' job of each outbox row o inserted (the row jobs_db_enqueue would add, inlined so that
 * queueing an email is one statement with the change's own). */
#define OUTBOX_JOBS                                                                                                    \
  " j AS (INSERT INTO jobs (kind, dedupe_key, payload)"                                                                \
  "       SELECT 'mail.send', o.id::text, jsonb_build_object('outbox_id', o.id) FROM o)"

/* One statement whatever the email: the member (active only), the link's digest, the message and its job. */
static const db_stmt queue_link = {
    "mail_queue_password_link",
    "WITH m AS (SELECT id, email FROM members WHERE lower(email) = lower($1) AND status = 'active'),"
    " r AS (INSERT INTO password_resets (digest, member_id, purpose, expires_at)"
    "       SELECT $2, m.id, $3, clock_timestamp() + make_interval(secs => $4::int) FROM m),"
    " o AS (INSERT INTO mail_outbox (member_id, to_address, subject, body) SELECT m.id, m.email, $5, $6 FROM m"
    "       RETURNING id)," OUTBOX_JOBS " SELECT count(*) FROM m"};

/* The invitation email of member $2's pending invitation to group $1, if the member is active. It names the
 * group only (the invitee may see it): not who invited, nor anything said in the group. Control characters
 * of the name become spaces, so the subject stays one header line. */
static const db_stmt queue_group_invitation = {
    "mail_queue_group_invitation",
    "WITH x AS (SELECT m.id, m.email, regexp_replace(g.name, '[[:cntrl:]]', ' ', 'g') AS group_name"
    "           FROM group_memberships gm JOIN members m ON m.id = gm.member_id JOIN groups g ON g.id = gm.group_id"
    "           WHERE gm.group_id = $1 AND gm.member_id = $2 AND gm.state = 'invited' AND m.status = 'active'),"
    " o AS (INSERT INTO mail_outbox (member_id, to_address, subject, body)"
    "       SELECT x.id, x.email, 'You are invited to join ' || x.group_name, format($3, x.group_name) FROM x"
    "       RETURNING id)," OUTBOX_JOBS " SELECT count(*) FROM x"};

static const char group_invitation_text[] = "You have been invited to join the forum group \"%s\" on forumnet.\n\n"
                                            "Sign in to forumnet to accept or decline the invitation.\n";

fn_status mail_db_queue_group_invitation(db_conn *db, const char *group_id, const char *member_id) {
  long count = 0;
  return db_query_long(db, &queue_group_invitation, DB_ARGS(group_id, member_id, group_invitation_text), &count);
}

static const char reset_text[] = "Someone asked to reset the password of your forumnet account.\n\n"
                                 "To choose a new password, open this link within 30 minutes:\n\n%s\n\n"
                                 "If it was not you, ignore this email: your password stays as it is.\n";
static const char invite_text[] = "An account on forumnet has been created for you.\n\n"
                                  "To choose your password, open this link within 7 days:\n\n%s\n";

/* The link: the template with each {token} replaced. */
static char *link_for(const char *template, const char *token) {
  strbuf b = STRBUF_INIT;
  const char *p = template, *hit;
  while ((hit = strstr(p, "{token}")) != NULL) {
    strbuf_append(&b, p, (size_t)(hit - p));
    strbuf_puts(&b, token);
    p = hit + 7;
  }
  strbuf_puts(&b, p);
  return strbuf_finish(&b, NULL);
}

fn_status mail_db_queue_password_link(const fn_config *cfg, db_conn *db, const char *email, password_link_kind kind,
                                      int *queued) {
  char token[64], digest[65], ttl[16], *body = NULL;
  int invite = kind == PASSWORD_LINK_INVITE;
  long count = 0;
  random_token(token, sizeof token, 32);
  token_digest_hex(token, digest);
  snprintf(ttl, sizeof ttl, "%d", invite ? PASSWORD_INVITE_TTL_SECONDS : PASSWORD_RESET_TTL_SECONDS);
  char *link = link_for(cfg->password_reset_url, token);
  strbuf b = STRBUF_INIT;
  if (link)
    strbuf_printf(&b, invite ? invite_text : reset_text, link);
  body = strbuf_finish(&b, NULL);
  fn_status st =
      body == NULL
          ? FN_INTERNAL
          : db_query_long(
                db, &queue_link,
                DB_ARGS(email, digest, invite ? "invite" : "reset", ttl,
                        invite ? "Your forumnet account: choose your password" : "Reset your forumnet password", body),
                &count);
  free(link);
  free(body);
  *queued = st == FN_OK && count > 0;
  return st;
}

static const db_stmt use_link = {
    "mail_use_password_link",
    "WITH t AS (UPDATE password_resets SET used_at = clock_timestamp()"
    "           WHERE digest = $1 AND used_at IS NULL AND expires_at > clock_timestamp() RETURNING member_id),"
    " o AS (UPDATE password_resets p SET used_at = clock_timestamp() FROM t"
    "       WHERE p.member_id = t.member_id AND p.used_at IS NULL AND p.digest <> $1)"
    " SELECT m.id FROM t JOIN members m ON m.id = t.member_id WHERE m.status = 'active'"};

fn_status mail_db_use_password_link(db_conn *db, const char *digest, char member_id[UUID_TEXT_SIZE], int *found) {
  member_id[0] = '\0';
  fn_status st = db_query_copy(db, &use_link, DB_ARGS(digest), member_id, UUID_TEXT_SIZE);
  *found = st == FN_OK && member_id[0] != '\0';
  return st;
}

/* ---- the 'mail.send' job ---- */

typedef struct outbox_row {
  char to_address[256];
  char subject[256];
  char body[8192];
} outbox_row;

static const db_column outbox_columns[] = {
    DB_COL_TEXT(outbox_row, to_address),
    DB_COL_TEXT(outbox_row, subject),
    DB_COL_TEXT(outbox_row, body),
    DB_COLUMNS_END,
};

static const db_stmt outbox_get = {"mail_outbox_get",
                                   "SELECT to_address, subject, body FROM mail_outbox WHERE id = $1 FOR UPDATE"};
static const db_stmt outbox_delete = {"mail_outbox_delete", "DELETE FROM mail_outbox WHERE id = $1"};

fn_status mail_jobs_send(db_conn *db, job *j) {
  const fn_config *cfg = mail_config();
  json_t *payload = json_loads(j->payload, 0, NULL);
  const char *id = json_string_value(json_object_get(payload, "outbox_id"));
  outbox_row row;
  char *message = NULL;
  int found = 0;
  fn_status st = FN_OK;
  if (cfg == NULL || id == NULL || !text_is_uuid(id)) {
    log_warn("job %ld (mail.send): no outbox_id, or mail not configured", j->id);
    st = cfg == NULL ? FN_UNAVAILABLE : FN_OK; /* a payload that can never work: dropped */
  } else if ((st = db_query_optional_row(db, &outbox_get, DB_ARGS(id), outbox_columns, &row, &found)) == FN_OK &&
             found) {
    if (mail_compose(cfg->mail_from, row.to_address, row.subject, row.body, id, time(NULL), &message) != FN_OK)
      log_warn("job %ld (mail.send): message %s refused (a header value with a line break): dropped", j->id, id);
    else
      st = mail_deliver(cfg, id, row.to_address, message, j->error, sizeof j->error);
    if (st == FN_OK)
      st = db_exec_on(db, &outbox_delete, id);
  }
  free(message);
  json_decref(payload);
  return st;
}

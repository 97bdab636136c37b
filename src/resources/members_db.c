/* Every SQL statement about members, and the rules for who may see or change them. */
#include "forumnet/members_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/notifications.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

static const db_stmt load_caller = {
    "members_load_caller",
    "SELECT role, coalesce(home_site_id::text, '') FROM members WHERE id = $1 AND status = 'active'"};

static const db_column caller_columns[] = {
    DB_COL_ROLE(member_caller, role),
    DB_COL_TEXT(member_caller, home_site_id),
    DB_COLUMNS_END,
};

fn_status members_db_load_caller(db_conn *db, const char *member_id, member_caller *out) {
  snprintf(out->id, sizeof out->id, "%s", member_id);
  return db_query_row(db, &load_caller, DB_ARGS(member_id), FN_UNAUTHENTICATED, caller_columns, out);
}

fn_status members_db_begin_as_caller(db_conn *db, const char *caller_id, member_caller *out) {
  fn_status st = db_begin(db);
  return st == FN_OK ? members_db_load_caller(db, caller_id, out) : st;
}

/* The visibility rule of members_can_view, evaluated in SQL for the one-round-trip read. */
static const db_stmt get_visible = {
    "members_get_visible",
    "WITH caller AS (SELECT id, role FROM members WHERE id = $1 AND status = 'active')"
    " SELECT (m.id IS NOT NULL AND (c.role = 'admin' OR m.id = c.id OR (c.role = 'manager' AND EXISTS ("
    "   SELECT 1 FROM site_managers sm WHERE sm.member_id = c.id AND sm.site_id = m.home_site_id)))),"
    " " MEMBER_JSON_SQL ", m.version"
    " FROM caller c LEFT JOIN members m ON m.id = $2"};

fn_status members_db_get_visible(db_conn *db, const char *caller_id, const char *member_id, db_representation *out) {
  fn_status st;
  PGresult *res = db_exec_found(db, &get_visible, DB_ARGS(caller_id, member_id), FN_UNAUTHENTICATED, &st);
  return res != NULL ? db_take_representation(res, 1, &out->json, &out->version) : st;
}

static const db_stmt get_self = {"members_get_self",
                                 "SELECT (" MEMBER_JSON_SQL
                                 "::jsonb || jsonb_build_object('must_change_password', m.must_change_password))::text,"
                                 " m.version FROM members m WHERE m.id = $1 AND m.status = 'active'"};

fn_status members_db_get_self(db_conn *db, const char *member_id, db_representation *out) {
  fn_status st;
  PGresult *res = db_exec_row(db, &get_self, DB_ARGS(member_id), FN_UNAUTHENTICATED, &st);
  return res != NULL ? db_take_representation(res, 0, &out->json, &out->version) : st;
}

/* Managers see only members whose home site they manage; the keyset condition keeps
 * every page an index range scan on (created_at, id). */
static const db_stmt list_members = {
    "members_list", "WITH caller AS (SELECT id, role FROM members WHERE id = $1 AND status = 'active')"
                    " SELECT cursor_key(m.created_at, m.id), " MEMBER_COLUMNS_SQL " FROM members m, caller c"
                    " WHERE (m.created_at, m.id) > ($2::timestamptz, $3::uuid)"
                    "   AND ($4::uuid IS NULL OR m.home_site_id = $4::uuid)"
                    "   AND ($5::text IS NULL OR m.role = $5)"
                    "   AND ($6::text IS NULL OR m.display_name ILIKE $6 ESCAPE '\\' OR m.email ILIKE $6 ESCAPE "
                    "'\\')"
                    "   AND (c.role = 'admin' OR (c.role = 'manager' AND m.home_site_id IN ("
                    "        SELECT sm.site_id FROM site_managers sm WHERE sm.member_id = c.id)))"
                    " ORDER BY m.created_at, m.id LIMIT $7"};

/* Builds an ILIKE pattern matching q anywhere, with its wildcards escaped. Caller frees. */
static char *substring_pattern(const char *q) {
  size_t len = strlen(q);
  char *out = malloc(len * 2 + 3);
  if (out == NULL)
    return NULL;
  char *p = out;
  *p++ = '%';
  for (const char *s = q; *s; s++) {
    if (*s == '%' || *s == '_' || *s == '\\')
      *p++ = '\\';
    *p++ = *s;
  }
  *p++ = '%';
  *p = '\0';
  return out;
}

fn_status members_db_list(db_conn *db, const char *caller_id, const char *site_id, const char *role, const char *q,
                          const page_request *page, PGresult **result) {
  fn_status st;
  char *pattern = q ? substring_pattern(q) : NULL;
  *result = NULL;
  if (q && pattern == NULL)
    return FN_INTERNAL; /* never run the search unfiltered */
  *result =
      db_exec(db, &list_members,
              DB_ARGS(caller_id, page->after_ts, page->after_id, site_id, role, pattern, page->limit_plus_one), &st);
  free(pattern);
  return st;
}

static const db_stmt insert_member = {
    "members_insert", "INSERT INTO members AS m (email, display_name, role, discipline, home_site_id, password_hash,"
                      " must_change_password) VALUES ($1, $2, $3, $4, $5::uuid, $6, true)"
                      " RETURNING " MEMBER_JSON_SQL ", m.version, m.id"};

fn_status members_db_insert(db_conn *db, const json_t *body, const char *password_hash, db_representation *out,
                            char id_out[UUID_TEXT_SIZE]) {
  return db_insert_representation(db, &insert_member,
                                  DB_ARGS(body_string(body, "email"), body_string(body, "display_name"),
                                          body_string(body, "role"), body_string(body, "discipline"),
                                          body_string(body, "home_site_id"), password_hash),
                                  &out->json, &out->version, id_out);
}

static const db_stmt lock_member = {
    "members_lock", "SELECT m.role, m.status, coalesce(m.home_site_id::text, ''), m.version,"
                    " EXISTS (SELECT 1 FROM site_managers sm WHERE sm.member_id = $2 AND sm.site_id = m.home_site_id)"
                    " FROM members m WHERE m.id = $1 FOR UPDATE"};

static const db_column member_columns[] = {
    DB_COL_ROLE(member_row, role),
    DB_COL_TEXT(member_row, status),
    DB_COL_TEXT(member_row, home_site_id),
    DB_COL_LONG(member_row, version),
    DB_COL_BOOL(member_row, caller_manages_home_site),
    DB_COLUMNS_END,
};

fn_status members_db_lock(db_conn *db, const char *member_id, const char *caller_id, member_row *out) {
  snprintf(out->id, sizeof out->id, "%s", member_id);
  return db_query_row(db, &lock_member, DB_ARGS(member_id, caller_id), FN_NOT_FOUND, member_columns, out);
}

/* Each field is a (present, value) pair so one statement serves every partial update. */
static const db_stmt update_member = {"members_update",
                                      "UPDATE members AS m SET"
                                      " email = CASE WHEN $2::bool THEN $3 ELSE m.email END,"
                                      " display_name = CASE WHEN $4::bool THEN $5 ELSE m.display_name END,"
                                      " discipline = CASE WHEN $6::bool THEN $7 ELSE m.discipline END,"
                                      " role = CASE WHEN $8::bool THEN $9 ELSE m.role END,"
                                      " home_site_id = CASE WHEN $10::bool THEN $11::uuid ELSE m.home_site_id END,"
                                      " status = CASE WHEN $12::bool THEN $13 ELSE m.status END,"
                                      " version = m.version + 1, updated_at = clock_timestamp()"
                                      " WHERE m.id = $1 RETURNING " MEMBER_JSON_SQL ", m.version"};

static const char *flag(const void *present) { return present ? "true" : "false"; }

fn_status members_db_update(db_conn *db, const char *member_id, const member_changes *c, db_representation *out) {
  return db_get_representation(db, &update_member,
                               DB_ARGS(member_id, flag(c->email), c->email, flag(c->display_name), c->display_name,
                                       c->set_discipline ? "true" : "false", c->discipline, flag(c->role), c->role,
                                       flag(c->home_site_id), c->home_site_id, flag(c->status), c->status),
                               &out->json, &out->version);
}

/* The advisory lock makes two concurrent demotions of the last two admins serialize. It is taken
 * in a statement of its own: a statement's snapshot is taken when it starts, so a count in the
 * statement that waited for the lock would not see the demotion committed during the wait. Under
 * READ COMMITTED the next statement's snapshot does. */
static const db_stmt admins_lock = {"members_admins_lock", "SELECT pg_advisory_xact_lock(7382119137896035701)"};

static const db_stmt other_admins = {
    "members_other_active_admins",
    "SELECT count(*) FROM members WHERE role = 'admin' AND status = 'active' AND id <> $1"};

static fn_status other_active_admins(db_conn *db, const char *member_id, long *count) {
  fn_status st = db_exec_command(db, &admins_lock, 0, NULL);
  return st == FN_OK ? db_query_long(db, &other_admins, DB_ARGS(member_id), count) : st;
}

fn_status members_db_check_last_admin(db_conn *db, const member_row *target, const member_changes *c,
                                      const char **detail) {
  int loses_admin = (c->role && role_from_string(c->role) != ROLE_ADMIN) || (c->status && strcmp(c->status, "active"));
  if (target->role != ROLE_ADMIN || strcmp(target->status, "active") != 0 || !loses_admin)
    return FN_OK;
  long others = 0;
  fn_status st = other_active_admins(db, target->id, &others);
  if (st == FN_OK && others == 0) {
    *detail = "This is the last active admin.";
    return FN_CONFLICT;
  }
  return st;
}

static const db_stmt email_within = {
    "members_email_within_callers_sites",
    "SELECT EXISTS (SELECT 1 FROM members m WHERE lower(m.email) = lower($2) AND manages_site($1, m.home_site_id))"};

fn_status members_db_email_within_callers_sites(db_conn *db, const char *caller_id, const char *email, int *within) {
  return db_query_bool(db, &email_within, DB_ARGS(caller_id, email), within);
}

static const db_stmt password_hash_of = {
    "members_password_hash",
    "SELECT coalesce(password_hash, '') FROM members WHERE id = $1 AND status = 'active' FOR UPDATE"};

fn_status members_db_password_hash(db_conn *db, const char *member_id, char *hash, size_t hash_len) {
  fn_status st;
  PGresult *res = db_exec_row(db, &password_hash_of, DB_ARGS(member_id), FN_UNAUTHENTICATED, &st);
  return res == NULL ? st : db_take_copy(res, 0, hash, hash_len);
}

static const db_stmt set_password = {
    "members_set_password",
    "UPDATE members SET password_hash = $2, must_change_password = false, password_set_at = clock_timestamp(),"
    " version = version + 1, updated_at = clock_timestamp() WHERE id = $1"};

fn_status members_db_set_password(db_conn *db, const char *member_id, const char *hash) {
  return db_exec_command(db, &set_password, DB_ARGS(member_id, hash));
}

/* Built in SQL so it reads every table that holds something about the member in one go: every
 * column that names a member (tests/e2e/e2e_data_protection.c checks that against the catalog).
 * What the member did to others keeps no other member's id (an invitation says where, not whom). */
static const db_stmt export_member = {
    "members_export",
    "SELECT json_build_object("
    " 'exported_at', rfc3339(now()),"
    " 'member', (" MEMBER_JSON_SQL "::jsonb || jsonb_build_object('must_change_password', m.must_change_password,"
    "            'updated_at', rfc3339(m.updated_at))),"
    " 'managed_sites', coalesce((SELECT json_agg(json_build_object('site_id', sm.site_id, 'since',"
    "   rfc3339(sm.created_at)) ORDER BY sm.created_at) FROM site_managers sm WHERE sm.member_id = m.id), '[]'::json),"
    " 'group_memberships', coalesce((SELECT json_agg(json_build_object('group_id', gm.group_id, 'group_name', g.name,"
    "   'state', gm.state, 'role', gm.role, 'represents_group_id', gm.represents_group_id,"
    "   'joined_at', rfc3339(gm.joined_at), 'accepted_terms_version', gm.accepted_terms_version)"
    "   ORDER BY gm.created_at) FROM group_memberships gm JOIN groups g ON g.id = gm.group_id"
    "   WHERE gm.member_id = m.id), '[]'::json),"
    " 'invitations_sent', coalesce((SELECT json_agg(json_build_object('group_id', gm.group_id, 'state', gm.state,"
    "   'sent_at', rfc3339(gm.created_at)) ORDER BY gm.created_at)"
    "   FROM group_memberships gm WHERE gm.invited_by = m.id), '[]'::json),"
    " 'groups_created', coalesce((SELECT json_agg(json_build_object('id', g.id, 'name', g.name,"
    "   'created_at', rfc3339(g.created_at)) ORDER BY g.created_at) FROM groups g WHERE g.created_by = m.id), "
    "'[]'::json),"
    " 'terms_versions', coalesce((SELECT json_agg(json_build_object('group_id', t.group_id, 'version', t.version,"
    "   'body', t.body, 'review_on', t.review_on, 'created_at', rfc3339(t.created_at)) ORDER BY t.created_at)"
    "   FROM group_terms t WHERE t.created_by = m.id), '[]'::json),"
    " 'terms_acceptances', coalesce((SELECT json_agg(json_build_object('group_id', ta.group_id,"
    "   'version', ta.version, 'accepted_at', rfc3339(ta.accepted_at)) ORDER BY ta.accepted_at)"
    "   FROM terms_acceptances ta WHERE ta.member_id = m.id), '[]'::json),"
    " 'meetings_created', coalesce((SELECT json_agg(json_build_object('id', mt.id, 'group_id', mt.group_id,"
    "   'starts_at', rfc3339(mt.starts_at), 'ends_at', rfc3339(mt.ends_at), 'created_at', rfc3339(mt.created_at))"
    "   ORDER BY mt.created_at) FROM meetings mt WHERE mt.created_by = m.id), '[]'::json),"
    " 'meeting_attendance', coalesce((SELECT json_agg(json_build_object('meeting_id', a.meeting_id,"
    "   'group_id', mt.group_id, 'starts_at', rfc3339(mt.starts_at), 'status', a.status) ORDER BY mt.starts_at)"
    "   FROM meeting_attendance a JOIN meetings mt ON mt.id = a.meeting_id WHERE a.member_id = m.id), '[]'::json),"
    " 'event_registrations', coalesce((SELECT json_agg(json_build_object('event_id', r.event_id,"
    "   'status', r.status, 'updated_at', rfc3339(r.updated_at)) ORDER BY r.created_at)"
    "   FROM event_registrations r WHERE r.member_id = m.id), '[]'::json),"
    " 'threads_started', coalesce((SELECT json_agg(json_build_object('id', t.id, 'group_id', t.group_id,"
    "   'title', t.title, 'created_at', rfc3339(t.created_at)) ORDER BY t.created_at)"
    "   FROM threads t WHERE t.created_by = m.id), '[]'::json),"
    " 'posts', coalesce((SELECT json_agg(json_build_object('id', p.id, 'thread_id', p.thread_id,"
    "   'group_id', t.group_id, 'body', p.body, 'created_at', rfc3339(p.created_at),"
    "   'edited_at', rfc3339(p.edited_at), 'removed', p.removed_at IS NOT NULL) ORDER BY p.created_at)"
    "   FROM posts p JOIN threads t ON t.id = p.thread_id WHERE p.author_id = m.id), '[]'::json),"
    " 'thread_reads', coalesce((SELECT json_agg(json_build_object('thread_id', tr.thread_id,"
    "   'read_upto', tr.read_upto, 'read_at', rfc3339(tr.read_at)) ORDER BY tr.read_at)"
    "   FROM thread_reads tr WHERE tr.member_id = m.id), '[]'::json),"
    " 'sessions', coalesce((SELECT json_agg(json_build_object('issued_at', rfc3339(rt.issued_at),"
    "   'expires_at', rfc3339(rt.expires_at), 'used_at', rfc3339(rt.used_at), 'revoked_at', rfc3339(rt.revoked_at))"
    "   ORDER BY rt.issued_at) FROM refresh_tokens rt WHERE rt.member_id = m.id), '[]'::json),"
    " 'consultations_owned', coalesce((SELECT json_agg(json_build_object('id', k.id, 'title', k.title))"
    "   FROM consultations k WHERE k.created_by = m.id), '[]'::json),"
    " 'events_created', coalesce((SELECT json_agg(json_build_object('id', e.id, 'title', e.title))"
    "   FROM events e WHERE e.created_by = m.id), '[]'::json),"
    " 'calendar_feeds', coalesce((SELECT json_agg(json_build_object('id', cf.id, 'created_at', rfc3339(cf.created_at),"
    "   'revoked_at', rfc3339(cf.revoked_at)) ORDER BY cf.created_at) FROM calendar_feeds cf WHERE cf.member_id = "
    "m.id),"
    "   '[]'::json)," /* never the digest */
    /* rows the member wrote, and rows about them (their account, or naming them in details.member_id);
     * another member named in details.member_id is left out */
    " 'audit_entries', coalesce((SELECT json_agg(json_build_object('at', rfc3339(al.at), 'action', al.action,"
    "   'resource_type', al.resource_type, 'resource_id', al.resource_id, 'by_me', al.actor_id IS NOT DISTINCT FROM "
    "m.id,"
    "   'details', al.details - CASE WHEN al.details->>'member_id' = m.id::text THEN '' ELSE 'member_id' END)"
    "   ORDER BY al.id) FROM audit_log al WHERE al.actor_id = m.id"
    "      OR (al.resource_type = 'member' AND al.resource_id = m.id::text)"
    "      OR al.details->>'member_id' = m.id::text), '[]'::json),"
    " 'notifications', coalesce((SELECT json_agg(" NOTIFICATION_JSON_SQL " ORDER BY n.seq)"
    "   FROM notifications n WHERE n.member_id = m.id), '[]'::json),"
    /* set-password links: times only (never the digest); email waiting to be sent: its subject and time only
     * (the body holds a live link) */
    " 'password_resets', coalesce((SELECT json_agg(json_build_object('purpose', pr.purpose,"
    "   'created_at', rfc3339(pr.created_at), 'expires_at', rfc3339(pr.expires_at), 'used_at', rfc3339(pr.used_at))"
    "   ORDER BY pr.created_at) FROM password_resets pr WHERE pr.member_id = m.id), '[]'::json),"
    " 'pending_email', coalesce((SELECT json_agg(json_build_object('subject', mo.subject,"
    "   'created_at', rfc3339(mo.created_at)) ORDER BY mo.created_at) FROM mail_outbox mo WHERE mo.member_id = m.id),"
    "   '[]'::json),"
    " 'identities', coalesce((SELECT json_agg(json_build_object('provider', mi.provider_id, 'issuer', mi.issuer,"
    "   'email', mi.email, 'created_at', rfc3339(mi.created_at), 'last_used_at', rfc3339(mi.last_used_at))"
    "   ORDER BY mi.created_at) FROM member_identities mi WHERE mi.member_id = m.id), '[]'::json))"
    " FROM members m WHERE m.id = $1 AND m.status = 'active'"};

fn_status members_db_export(db_conn *db, const char *member_id, char **json) {
  return db_query_text(db, &export_member, DB_ARGS(member_id), FN_UNAUTHENTICATED, json);
}

/* One statement, so nothing personal survives a half-done erasure. (login_failures holds
 * only a keyed digest of the email, deleted when its window ends.) */
static const db_stmt erase_member = {
    "members_erase",
    "WITH m AS (UPDATE members SET email = NULL, display_name = 'former member', discipline = NULL,"
    "        password_hash = NULL, must_change_password = false, status = 'erased', version = version + 1,"
    "        credentials_changed_at = clock_timestamp(), updated_at = clock_timestamp() WHERE id = $1 RETURNING id),"
    " rt AS (DELETE FROM refresh_tokens WHERE member_id = $1),"
    " sm AS (DELETE FROM site_managers WHERE member_id = $1),"
    " wp AS (DELETE FROM member_write_positions WHERE member_id = $1),"
    " nt AS (DELETE FROM notifications WHERE member_id = $1),"
    " tk AS (DELETE FROM stream_tickets WHERE member_id = $1),"
    " cf AS (DELETE FROM calendar_feeds WHERE member_id = $1),"
    " tr AS (DELETE FROM thread_reads WHERE member_id = $1),"
    " pr AS (DELETE FROM password_resets WHERE member_id = $1),"
    " mo AS (DELETE FROM mail_outbox WHERE member_id = $1),"
    " mi AS (DELETE FROM member_identities WHERE member_id = $1),"
    " gm AS (DELETE FROM group_memberships WHERE member_id = $1 RETURNING group_id)"
    " SELECT (SELECT count(*) FROM m), coalesce((SELECT json_agg(DISTINCT group_id) FROM gm), '[]'::json)"};

fn_status members_db_erase(db_conn *db, const char *member_id, char **group_ids) {
  fn_status st;
  *group_ids = NULL;
  PGresult *res = db_exec(db, &erase_member, DB_ARGS(member_id), &st);
  if (res != NULL && db_value_long(res, 0, 0) != 1) {
    PQclear(res);
    return FN_NOT_FOUND;
  }
  return res != NULL ? db_take_text(res, 1, group_ids) : st;
}

member_changes members_changes_from_body(const json_t *body) {
  member_changes c = {
      .email = body_string(body, "email"),
      .display_name = body_string(body, "display_name"),
      .role = body_string(body, "role"),
      .home_site_id = body_string(body, "home_site_id"),
      .status = body_string(body, "status"),
      .set_discipline = json_object_get(body, "discipline") != NULL,
      .discipline = body_string(body, "discipline"),
  };
  return c;
}

int members_can_view(const member_caller *caller, const member_row *target) {
  return caller->role == ROLE_ADMIN || strcmp(caller->id, target->id) == 0 ||
         (caller->role == ROLE_MANAGER && target->caller_manages_home_site);
}

fn_status members_can_update(const member_caller *caller, const member_row *target, const member_changes *c,
                             int caller_manages_new_site, const char **detail) {
  if (!members_can_view(caller, target))
    return FN_NOT_FOUND;
  if (caller->role == ROLE_ADMIN)
    return FN_OK;
  if (caller->role != ROLE_MANAGER || strcmp(caller->id, target->id) == 0) {
    *detail = "Change your own account through /v1/me.";
    return FN_FORBIDDEN;
  }
  /* A site manager: members of their sites, up to facilitator, and never email. */
  if (target->role > ROLE_FACILITATOR) {
    *detail = "Managers may change practitioners and facilitators only.";
    return FN_FORBIDDEN;
  }
  if (c->email) {
    *detail = "Only an admin may change a member's email.";
    return FN_FORBIDDEN;
  }
  if (c->role && role_from_string(c->role) > ROLE_FACILITATOR) {
    *detail = "Managers may grant roles up to facilitator.";
    return FN_FORBIDDEN;
  }
  if (c->home_site_id && !caller_manages_new_site) {
    *detail = "Managers may move members only to sites they manage.";
    return FN_FORBIDDEN;
  }
  return FN_OK;
}

fn_status members_can_create(const member_caller *caller, member_role role, int caller_manages_site,
                             const char **detail) {
  if (caller->role == ROLE_ADMIN)
    return FN_OK;
  if (caller->role != ROLE_MANAGER) {
    *detail = "Only admins and site managers may create members.";
    return FN_FORBIDDEN;
  }
  if (role > ROLE_FACILITATOR) {
    *detail = "Managers may create practitioners and facilitators only.";
    return FN_FORBIDDEN;
  }
  if (!caller_manages_site) {
    *detail = "Managers may create members only at sites they manage.";
    return FN_FORBIDDEN;
  }
  return FN_OK;
}

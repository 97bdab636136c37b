/* Every SQL statement about events themselves. Visibility is the SQL function
 * event_visible() (sql/004_events.sql). Statements that depend on the caller take it as
 * $1 member id, $2 member role, $3 home site, $4 partner id (NULLs for the other kind). */
#include "forumnet/events_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/members_db.h"
#include "forumnet/sites_db.h"
#include "forumnet/text.h"
#include "forumnet/timestamp.h"

// clang-format off
#define EVENT_FIELDS_SQL(F, SEP)                                                                                       \
  F("id", "e.id") SEP                                                                                                  \
  F("kind", "e.kind") SEP                                                                                              \
  F("title", "e.title") SEP                                                                                            \
  F("description", "e.description") SEP                                                                                \
  F("starts_at", "rfc3339(e.starts_at)") SEP                                                                           \
  F("ends_at", "rfc3339(e.ends_at)") SEP                                                                               \
  F("location", "e.location") SEP                                                                                      \
  F("online_url", "e.online_url") SEP                                                                                  \
  F("audience", "CASE WHEN e.network_wide THEN json_build_object('scope', 'network') ELSE"                             \
                " json_build_object('scope', 'sites', 'site_ids', coalesce((SELECT json_agg(es.site_id ORDER BY"       \
                " es.site_id) FROM event_sites es WHERE es.event_id = e.id), '[]'::json)) END") SEP                    \
  F("capacity", "e.capacity") SEP                                                                                      \
  F("status", "e.status") SEP                                                                                          \
  F("partner_id", "e.partner_id") SEP                                                                                  \
  F("external_id", "e.external_id") SEP                                                                                \
  F("owner", "CASE WHEN e.partner_id IS NOT NULL THEN json_build_object('kind', 'partner', 'id', e.partner_id)"        \
             " ELSE json_build_object('kind', 'member', 'id', e.created_by) END") SEP                                  \
  F("registration_counts", "CASE WHEN $2 = 'admin' OR e.created_by = $1::uuid OR e.partner_id = $4::uuid THEN ("       \
                           " SELECT json_build_object('going', count(*) FILTER (WHERE r.status = 'going'),"            \
                           " 'waitlisted', count(*) FILTER (WHERE r.status = 'waitlisted'), 'interested',"             \
                           " count(*) FILTER (WHERE r.status = 'interested'), 'declined', count(*) FILTER (WHERE"      \
                           " r.status = 'declined')) FROM event_registrations r WHERE r.event_id = e.id) END") SEP     \
  F("my_registration", "(SELECT json_build_object('status', r.status) FROM event_registrations r WHERE"                \
                       " r.event_id = e.id AND r.member_id = $1::uuid)") SEP                                           \
  F("version", "e.version") SEP                                                                                        \
  F("created_at", "rfc3339(e.created_at)")
// clang-format on
#define EVENT_JSON_SQL DB_JSON_OBJECT(EVENT_FIELDS_SQL)
#define EVENT_COLUMNS_SQL DB_COLUMNS(EVENT_FIELDS_SQL)

#define EVENT_VISIBLE_SQL                                                                                              \
  "event_visible(e.id, e.status, e.network_wide, e.created_by, e.partner_id, $1::uuid, $2, $3::uuid, $4::uuid)"

/* The four caller parameters, in statement order. */
static void caller_params(const event_caller *c, const char *out[4]) {
  out[0] = c->is_partner ? NULL : c->id;
  out[1] = c->is_partner ? NULL : role_to_string(c->role);
  out[2] = c->is_partner || c->home_site_id[0] == '\0' ? NULL : c->home_site_id;
  out[3] = c->is_partner ? c->id : NULL;
}

/* The parameters of a statement that takes the caller parameters and $5 the event id, in out. */
static const char *const *event_params(const event_caller *caller, const char *event_id, const char *out[5]) {
  caller_params(caller, out);
  out[4] = event_id;
  return out;
}

static const db_stmt partner_active = {"events_partner_active",
                                       "SELECT trusted FROM partners WHERE id = $1 AND revoked_at IS NULL"};

static const db_column partner_columns[] = {DB_COL_BOOL(event_caller, trusted), DB_COLUMNS_END};

fn_status events_db_load_caller(db_conn *db, const fn_caller *token_caller, event_caller *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->id, sizeof out->id, "%s", token_caller->id);
  if (!token_caller->is_partner) {
    member_caller m;
    fn_status st = members_db_load_caller(db, token_caller->id, &m);
    if (st == FN_OK) {
      out->role = m.role;
      snprintf(out->home_site_id, sizeof out->home_site_id, "%s", m.home_site_id);
    }
    return st;
  }
  out->is_partner = 1;
  /* no row: revoked, and its tokens end with it */
  return db_query_row(db, &partner_active, DB_ARGS(token_caller->id), FN_UNAUTHENTICATED, partner_columns, out);
}

static const db_stmt lock_event = {"events_lock", "SELECT 1 FROM events WHERE id = $1 FOR UPDATE"};

static const db_stmt access_event = {
    "events_access",
    "SELECT e.id IS NOT NULL, e.status, e.version, coalesce(e.capacity, 0), coalesce(" EVENT_VISIBLE_SQL ", false),"
    " coalesce(e.created_by = $1::uuid OR e.partner_id = $4::uuid, false),"
    " coalesce($2 = 'admin' OR ($2 = 'manager' AND EXISTS (SELECT 1 FROM event_sites es"
    "   JOIN site_managers sm ON sm.site_id = es.site_id WHERE es.event_id = e.id AND sm.member_id = $1::uuid)),"
    "   false),"
    " coalesce($2 = 'admin', false),"
    " (extract(epoch FROM e.starts_at) * 1000000)::bigint, (extract(epoch FROM e.ends_at) * 1000000)::bigint"
    " FROM (SELECT 1) AS one LEFT JOIN events e ON e.id = $5"};

static const db_column access_columns[] = {
    DB_COL_SKIP,
    DB_COL_TEXT(event_access, status),
    DB_COL_LONG(event_access, version),
    DB_COL_LONG(event_access, capacity),
    DB_COL_BOOL(event_access, visible),
    DB_COL_BOOL(event_access, owner),
    DB_COL_BOOL(event_access, can_publish),
    DB_COL_BOOL(event_access, is_admin),
    DB_COL_LONG(event_access, starts_us),
    DB_COL_LONG(event_access, ends_us),
    DB_COLUMNS_END,
};

fn_status events_db_access(db_conn *db, const char *event_id, const event_caller *caller, int lock, event_access *out) {
  fn_status st;
  const char *params[5];
  memset(out, 0, sizeof *out);
  snprintf(out->id, sizeof out->id, "%s", event_id);
  /* the statement always answers one row */
  PGresult *res = db_exec_found_locked(db, lock ? &lock_event : NULL, event_id, &access_event, 5,
                                       event_params(caller, event_id, params), FN_NOT_FOUND, &st);
  return res == NULL ? st : db_take_row(res, access_columns, out);
}

fn_status events_db_load_visible(db_conn *db, const fn_caller *token_caller, const char *event_id, int lock,
                                 event_caller *caller, event_access *out) {
  fn_status st = events_db_load_caller(db, token_caller, caller);
  if (st == FN_OK)
    st = events_db_access(db, event_id, caller, lock, out);
  return st == FN_OK && !out->visible ? FN_NOT_FOUND : st;
}

/* $3 (home site) is unused here but typed, so that every events statement takes the caller
 * parameters in the same layout. */
static const db_stmt get_event = {"events_get", "SELECT " EVENT_JSON_SQL ", e.version FROM events e"
                                                " WHERE e.id = $5 AND $3::uuid IS NOT DISTINCT FROM $3::uuid"};

fn_status events_db_get(db_conn *db, const char *event_id, const event_caller *caller, db_representation *out) {
  const char *params[5];
  return db_get_representation(db, &get_event, 5, event_params(caller, event_id, params), &out->json, &out->version);
}

static const db_stmt list_events = {
    "events_list", "SELECT cursor_key(e.starts_at, e.id), " EVENT_COLUMNS_SQL " FROM events e"
                   " WHERE (e.starts_at, e.id) > ($5::timestamptz, $6::uuid)"
                   "   AND ($7::uuid IS NULL OR e.network_wide"
                   "        OR EXISTS (SELECT 1 FROM event_sites es WHERE es.event_id = e.id AND es.site_id = "
                   "$7::uuid))"
                   "   AND ($8::timestamptz IS NULL OR e.starts_at >= $8::timestamptz)"
                   "   AND ($9::timestamptz IS NULL OR e.starts_at < $9::timestamptz)"
                   "   AND ($10::text IS NULL OR e.kind = $10) AND ($11::text IS NULL OR e.status = $11)"
                   "   AND " EVENT_VISIBLE_SQL " ORDER BY e.starts_at, e.id LIMIT $12"};

fn_status events_db_list(db_conn *db, const event_caller *caller, const char *site_id, const char *from, const char *to,
                         const char *kind, const char *status, const page_request *page, PGresult **result) {
  const char *params[12];
  caller_params(caller, params);
  params[4] = page->after_ts;
  params[5] = page->after_id;
  params[6] = site_id;
  params[7] = from;
  params[8] = to;
  params[9] = kind;
  params[10] = status;
  params[11] = page->limit_plus_one;
  return db_query_rows(db, &list_events, 12, params, result);
}

fn_status events_db_check_audience(db_conn *db, const event_caller *caller, const json_t *audience, json_t **errors,
                                   const char **detail) {
  int manager = !caller->is_partner && caller->role == ROLE_MANAGER;
  json_t *ids = json_object_get(audience, "site_ids");
  if (strcmp(body_string(audience, "scope"), "network") == 0) {
    if (!manager)
      return FN_OK;
    *detail = "Managers publish events for the sites they manage, not the whole network.";
    return FN_FORBIDDEN;
  }
  fn_status st, verdict = FN_OK;
  PGresult *res = sites_db_check_named(db, ids, caller->is_partner ? NULL : caller->id, &st);
  for (int i = 0; res && i < PQntuples(res); i++) {
    char field[48];
    snprintf(field, sizeof field, "audience.site_ids[%d]", i);
    if (!db_value_bool(res, i, 0)) {
      field_errors_add(errors, field, "is not an open site");
      verdict = FN_INVALID;
    } else if (manager && !db_value_bool(res, i, 1) && verdict == FN_OK) {
      *detail = "Managers publish events only for the sites they manage.";
      verdict = FN_FORBIDDEN;
    }
  }
  PQclear(res);
  return st != FN_OK ? st : verdict;
}

/* A partner's external_id is unique: a retry that lost its Idempotency-Key still cannot
 * create a second event (ON CONFLICT waits for a concurrent insert to commit first). */
static const db_stmt insert_event = {
    "events_insert",
    "WITH e AS (INSERT INTO events (kind, title, description, starts_at, ends_at, location, online_url,"
    "             network_wide, capacity, status, created_by, partner_id, external_id)"
    "           VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6, $7, $8::bool, $9::int, $10, $11::uuid,"
    "                   $12::uuid, $13)"
    "           ON CONFLICT (partner_id, external_id) WHERE external_id IS NOT NULL DO NOTHING RETURNING id),"
    " s AS (INSERT INTO event_sites (event_id, site_id)"
    "       SELECT e.id, x::uuid FROM e, json_array_elements_text($14::json) x ON CONFLICT DO NOTHING)"
    " SELECT id FROM e"};

static const db_stmt existing_external = {"events_existing_external",
                                          "SELECT id FROM events WHERE partner_id = $1 AND external_id = $2"};

static char *site_ids_text(const json_t *audience) {
  json_t *ids = json_object_get(audience, "site_ids");
  return ids ? json_dumps(ids, JSON_COMPACT) : strdup("[]");
}

static const char *int_text(const json_t *v, char *buf, size_t len) {
  if (!json_is_integer(v))
    return NULL;
  snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  return buf;
}

fn_status events_db_insert(db_conn *db, const json_t *body, const event_caller *caller, const char *status,
                           char id_out[UUID_TEXT_SIZE], char existing_id[UUID_TEXT_SIZE]) {
  fn_status st;
  json_t *audience = json_object_get(body, "audience");
  char capacity[24], *sites = site_ids_text(audience);
  st = db_query_copy(db, &insert_event,
                     DB_ARGS(body_string(body, "kind"), body_string(body, "title"), body_string(body, "description"),
                             body_string(body, "starts_at"), body_string(body, "ends_at"),
                             body_string(body, "location"), body_string(body, "online_url"),
                             strcmp(body_string(audience, "scope"), "network") == 0 ? "true" : "false",
                             int_text(json_object_get(body, "capacity"), capacity, sizeof capacity), status,
                             caller->is_partner ? NULL : caller->id, caller->is_partner ? caller->id : NULL,
                             body_string(body, "external_id"), sites),
                     id_out, UUID_TEXT_SIZE);
  free(sites);
  if (st != FN_OK || id_out[0] != '\0')
    return st;
  /* no row: the partner's external_id is taken ("" when that event is gone since) */
  const char *eparams[] = {caller->id, body_string(body, "external_id")};
  st = db_query_copy(db, &existing_external, 2, eparams, existing_id, UUID_TEXT_SIZE);
  return st == FN_OK ? FN_CONFLICT : st;
}

/* (present, value) pairs; an audience, when present, replaces the old one. With $21 (an untrusted
 * partner's change), a published event whose title, description, times, place, online_url or
 * audience really changes (the same value again is no change) goes back to pending (API.md section 7).
 * The SET's e.* and the event_sites subquery read the row as it was before this statement. */
static const db_stmt update_event = {
    "events_update",
    "WITH e AS (UPDATE events e SET"
    "   kind = CASE WHEN $2::bool THEN $3 ELSE e.kind END,"
    "   title = CASE WHEN $4::bool THEN $5 ELSE e.title END,"
    "   description = CASE WHEN $6::bool THEN $7 ELSE e.description END,"
    "   starts_at = CASE WHEN $8::bool THEN $9::timestamptz ELSE e.starts_at END,"
    "   ends_at = CASE WHEN $10::bool THEN $11::timestamptz ELSE e.ends_at END,"
    "   location = CASE WHEN $12::bool THEN $13 ELSE e.location END,"
    "   online_url = CASE WHEN $14::bool THEN $15 ELSE e.online_url END,"
    "   capacity = CASE WHEN $16::bool THEN $17::int ELSE e.capacity END,"
    "   network_wide = CASE WHEN $18::bool THEN $19::bool ELSE e.network_wide END,"
    "   status = CASE WHEN $21::bool AND e.status = 'published' AND ("
    "       ($4::bool AND $5 IS DISTINCT FROM e.title) OR ($6::bool AND $7 IS DISTINCT FROM e.description)"
    "       OR ($8::bool AND $9::timestamptz IS DISTINCT FROM e.starts_at)"
    "       OR ($10::bool AND $11::timestamptz IS DISTINCT FROM e.ends_at)"
    "       OR ($12::bool AND $13 IS DISTINCT FROM e.location) OR ($14::bool AND $15 IS DISTINCT FROM e.online_url)"
    "       OR ($18::bool AND ($19::bool IS DISTINCT FROM e.network_wide OR (NOT $19::bool AND"
    "         ARRAY(SELECT es.site_id FROM event_sites es WHERE es.event_id = $1 ORDER BY 1) IS DISTINCT FROM"
    "         ARRAY(SELECT DISTINCT x::uuid FROM json_array_elements_text($20::json) x ORDER BY 1)))))"
    "     THEN 'pending' ELSE e.status END,"
    "   version = e.version + 1, revision = e.revision + 1"
    "   WHERE e.id = $1 RETURNING e.status),"
    /* Only the sites that leave: a site kept in the audience must not be deleted by d while s's
     * ON CONFLICT skips re-inserting it (both see the rows as they were). */
    " d AS (DELETE FROM event_sites WHERE $18::bool AND event_id = $1"
    "       AND site_id NOT IN (SELECT x::uuid FROM json_array_elements_text($20::json) x)),"
    " s AS (INSERT INTO event_sites (event_id, site_id)"
    "       SELECT $1, x::uuid FROM json_array_elements_text($20::json) x WHERE $18::bool ON CONFLICT DO NOTHING)"
    " SELECT status FROM e"};

fn_status events_db_update(db_conn *db, const char *event_id, const json_t *body, int moderated, char status[16]) {
  json_t *audience = json_object_get(body, "audience");
  char capacity[24], *sites = site_ids_text(audience);
  const char *network = audience && strcmp(body_string(audience, "scope"), "network") == 0 ? "true" : "false";
  fn_status st;
  PGresult *res = db_exec_row(
      db, &update_event,
      DB_ARGS(event_id, db_param_present(body, "kind"), body_string(body, "kind"), db_param_present(body, "title"),
              body_string(body, "title"), db_param_present(body, "description"), body_string(body, "description"),
              db_param_present(body, "starts_at"), body_string(body, "starts_at"), db_param_present(body, "ends_at"),
              body_string(body, "ends_at"), db_param_present(body, "location"), body_string(body, "location"),
              db_param_present(body, "online_url"), body_string(body, "online_url"), db_param_present(body, "capacity"),
              int_text(json_object_get(body, "capacity"), capacity, sizeof capacity),
              db_param_present(body, "audience"), network, sites, moderated ? "true" : "false"),
      FN_NOT_FOUND, &st);
  free(sites);
  return res == NULL ? st : db_take_copy(res, 0, status, 16);
}

static const db_stmt set_status = {
    "events_set_status", "UPDATE events SET status = $2, version = version + 1, revision = revision + 1 WHERE id = $1"};

fn_status events_db_set_status(db_conn *db, const char *event_id, const char *status) {
  return db_exec_command(db, &set_status, DB_ARGS(event_id, status));
}

static const db_stmt going_count = {
    "events_going_count", "SELECT count(*) FROM event_registrations WHERE event_id = $1 AND status = 'going'"};

fn_status events_db_going_count(db_conn *db, const char *event_id, long *going) {
  return db_query_long(db, &going_count, DB_ARGS(event_id), going);
}

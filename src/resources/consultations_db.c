/* Every SQL statement about consultations themselves and their outcome. Visibility is
 * the SQL function consultation_visible() (sql/003_consultations.sql), used by all of them. */
#include "forumnet/consultations_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forumnet/body.h"
#include "forumnet/sites_db.h"

/* k: the consultation; c: the caller (id, role). */
// clang-format off
#define CONSULTATION_FIELDS_SQL(F, SEP)                                                                                \
  F("id", "k.id") SEP                                                                                                  \
  F("title", "k.title") SEP                                                                                            \
  F("summary", "k.summary") SEP                                                                                        \
  F("questions", "k.questions") SEP                                                                                    \
  F("target", "json_build_object( 'site_ids', coalesce((SELECT json_agg(ts.site_id ORDER BY ts.site_id) FROM"          \
              " consultation_target_sites ts WHERE ts.consultation_id = k.id), '[]'::json), 'group_ids',"              \
              " coalesce((SELECT json_agg(tg.group_id ORDER BY tg.group_id) FROM consultation_target_groups tg"        \
              " WHERE tg.consultation_id = k.id), '[]'::json))") SEP                                                   \
  F("opens_at", "rfc3339(k.opens_at)") SEP                                                                             \
  F("closes_at", "rfc3339(k.closes_at)") SEP                                                                           \
  F("status", "consultation_status(k.status, k.closes_at)") SEP                                                        \
  F("owner_id", "k.created_by") SEP                                                                                    \
  F("outcome", "k.outcome") SEP                                                                                        \
  F("version", "k.version") SEP                                                                                        \
  F("created_at", "rfc3339(k.created_at)") SEP                                                                         \
  F("response_rate", "CASE WHEN c.role = 'admin' OR k.created_by = c.id THEN ( SELECT"                                 \
                     " json_build_object('targeted', t.n, 'submitted', t.s, 'rate', CASE WHEN t.n = 0 THEN NULL"       \
                     " ELSE round(t.s::numeric / t.n, 3) END) FROM (SELECT count(*) AS n, count(r.group_id) AS s"      \
                     " FROM consultation_targeted_groups(k.id) AS tg(group_id) LEFT JOIN consultation_responses"       \
                     " r ON r.consultation_id = k.id AND r.group_id = tg.group_id AND r.status = 'submitted') t)"      \
                     " END")
// clang-format on
#define CONSULTATION_JSON_SQL DB_JSON_OBJECT(CONSULTATION_FIELDS_SQL)
#define CONSULTATION_COLUMNS_SQL DB_COLUMNS(CONSULTATION_FIELDS_SQL)

#define CALLER_CTE "WITH c AS (SELECT id, role, home_site_id FROM members WHERE id = $1 AND status = 'active')"

#define VISIBLE_SQL "consultation_visible(k.id, k.created_by, k.status, c.id, c.role, c.home_site_id)"

static const db_stmt access_plain = {
    "consultations_access",
    CALLER_CTE " SELECT k.id IS NOT NULL, k.created_by, consultation_status(k.status, k.closes_at), k.version,"
               " coalesce(" VISIBLE_SQL ", false), (c.role = 'admin' OR k.created_by = c.id), k.closes_at > now(),"
               " k.status = 'open'"
               " FROM c LEFT JOIN consultations k ON k.id = $2"};

static const db_stmt lock_consultation = {"consultations_lock", "SELECT 1 FROM consultations WHERE id = $1 FOR UPDATE"};

static const db_column access_columns[] = {
    DB_COL_SKIP,
    DB_COL_TEXT(consultation_access, owner_id),
    DB_COL_TEXT(consultation_access, status),
    DB_COL_LONG(consultation_access, version),
    DB_COL_BOOL(consultation_access, visible),
    DB_COL_BOOL(consultation_access, owner_or_admin),
    DB_COL_BOOL(consultation_access, closes_in_future),
    DB_COL_BOOL(consultation_access, stored_open),
    DB_COLUMNS_END,
};

fn_status consultations_db_access(db_conn *db, const char *id, const char *caller_id, int lock,
                                  consultation_access *out) {
  fn_status st;
  memset(out, 0, sizeof *out);
  snprintf(out->id, sizeof out->id, "%s", id);
  PGresult *res = db_exec_found_locked(db, lock ? &lock_consultation : NULL, id, &access_plain, DB_ARGS(caller_id, id),
                                       FN_UNAUTHENTICATED, &st);
  return res == NULL ? st : db_take_row(res, access_columns, out);
}

fn_status consultations_db_visible(db_conn *db, const char *id, const char *caller_id, int lock,
                                   consultation_access *out) {
  fn_status st = consultations_db_access(db, id, caller_id, lock, out);
  return st == FN_OK && !out->visible ? FN_NOT_FOUND : st;
}

static const db_stmt get_consultation = {"consultations_get",
                                         CALLER_CTE " SELECT " CONSULTATION_JSON_SQL
                                                    ", k.version FROM c, consultations k WHERE k.id = $2"};

fn_status consultations_db_get(db_conn *db, const char *id, const char *caller_id, db_representation *out) {
  return db_get_representation(db, &get_consultation, DB_ARGS(caller_id, id), &out->json, &out->version);
}

static const db_stmt list_consultations = {
    "consultations_list",
    CALLER_CTE " SELECT cursor_key(k.created_at, k.id), " CONSULTATION_COLUMNS_SQL " FROM c, consultations k"
               " WHERE (k.created_at, k.id) > ($2::timestamptz, $3::uuid)"
               "   AND ($4::text IS NULL OR consultation_status(k.status, k.closes_at) = $4)"
               "   AND ($5::uuid IS NULL"
               "        OR EXISTS (SELECT 1 FROM consultation_target_sites ts"
               "                   WHERE ts.consultation_id = k.id AND ts.site_id = $5::uuid)"
               "        OR EXISTS (SELECT 1 FROM consultation_target_groups tg JOIN groups g ON g.id "
               "= tg.group_id"
               "                   WHERE tg.consultation_id = k.id AND g.site_id = $5::uuid))"
               "   AND " VISIBLE_SQL " ORDER BY k.created_at, k.id LIMIT $6"};

fn_status consultations_db_list(db_conn *db, const char *caller_id, const char *status, const char *site_id,
                                const page_request *page, PGresult **result) {
  return db_query_rows(db, &list_consultations,
                       DB_ARGS(caller_id, page->after_ts, page->after_id, status, site_id, page->limit_plus_one),
                       result);
}

/* One row per requested target group with what the rules need: does it exist (and is it open), is it
 * network-wide, and does the caller manage its site (sites_db_check_named is the same for sites). */
static const db_stmt check_groups = {
    "consultations_check_groups",
    "SELECT g.id IS NOT NULL AND g.status <> 'closed', g.site_id IS NULL,"
    " EXISTS (SELECT 1 FROM site_managers sm WHERE sm.site_id = g.site_id AND sm.member_id = $2)"
    " FROM json_array_elements_text($1::json) WITH ORDINALITY AS x(id, n)"
    " LEFT JOIN groups g ON g.id = x.id::uuid ORDER BY x.n"};

static PGresult *groups_check_named(db_conn *db, const json_t *ids, const char *member_id, fn_status *st) {
  char *text = json_dumps(ids, JSON_COMPACT);
  PGresult *res = db_exec(db, &check_groups, DB_ARGS(text, member_id), st);
  free(text);
  return res;
}

fn_status consultations_db_check_targets(db_conn *db, const member_caller *caller, const json_t *target,
                                         json_t **errors, const char **detail) {
  static const struct {
    const char *key;
    PGresult *(*check)(db_conn *db, const json_t *ids, const char *member_id, fn_status *st);
  } kinds[] = {{"site_ids", sites_db_check_named}, {"group_ids", groups_check_named}};
  fn_status st = FN_OK, verdict = FN_OK;
  for (size_t k = 0; k < 2 && st == FN_OK; k++) {
    json_t *ids = json_object_get(target, kinds[k].key);
    if (json_array_size(ids) == 0)
      continue;
    PGresult *res = kinds[k].check(db, ids, caller->id, &st);
    for (int i = 0; res && i < PQntuples(res); i++) {
      char field[48];
      snprintf(field, sizeof field, "target.%s[%d]", kinds[k].key, i);
      int is_group = kinds[k].check == groups_check_named;
      int manages = db_value_bool(res, i, is_group ? 2 : 1), network_wide = is_group && db_value_bool(res, i, 1);
      if (!db_value_bool(res, i, 0)) {
        field_errors_add(errors, field, is_group ? "is not an open group" : "is not an open site");
        verdict = FN_INVALID;
      } else if (caller->role != ROLE_ADMIN && is_group && !network_wide && !manages) {
        /* a group at a site the manager does not manage: they may not know it exists */
        field_errors_add(errors, field, "is not an open group");
        verdict = FN_INVALID;
      } else if (caller->role != ROLE_ADMIN && network_wide) {
        *detail = "Only admins consult network-wide groups.";
        if (verdict == FN_OK)
          verdict = FN_FORBIDDEN;
      } else if (caller->role != ROLE_ADMIN && !manages) {
        *detail = "Managers consult only the sites they manage and the groups at them.";
        if (verdict == FN_OK)
          verdict = FN_FORBIDDEN;
      }
    }
    PQclear(res);
  }
  return st != FN_OK ? st : verdict;
}

static const db_stmt insert_consultation = {
    "consultations_insert",
    "WITH k AS (INSERT INTO consultations (title, summary, questions, opens_at, closes_at, created_by)"
    "           VALUES ($1, $2, $3::jsonb, $4::timestamptz, $5::timestamptz, $6) RETURNING id),"
    " s AS (INSERT INTO consultation_target_sites (consultation_id, site_id)"
    "       SELECT k.id, x::uuid FROM k, json_array_elements_text($7::json) x ON CONFLICT DO NOTHING),"
    " g AS (INSERT INTO consultation_target_groups (consultation_id, group_id)"
    "       SELECT k.id, x::uuid FROM k, json_array_elements_text($8::json) x ON CONFLICT DO NOTHING)"
    " SELECT id FROM k"};

/* JSON text of body[key][sub] (or of body[key]), "[]" when absent. Caller frees. */
static char *json_text(const json_t *value) {
  return value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("[]");
}

fn_status consultations_db_insert(db_conn *db, const json_t *body, const char *owner_id, char id_out[UUID_TEXT_SIZE]) {
  json_t *target = json_object_get(body, "target");
  char *questions = json_text(json_object_get(body, "questions"));
  char *sites = json_text(json_object_get(target, "site_ids"));
  char *groups = json_text(json_object_get(target, "group_ids"));
  fn_status st =
      db_query_copy(db, &insert_consultation,
                    DB_ARGS(body_string(body, "title"), body_string(body, "summary"), questions,
                            body_string(body, "opens_at"), body_string(body, "closes_at"), owner_id, sites, groups),
                    id_out, UUID_TEXT_SIZE);
  free(questions);
  free(sites);
  free(groups);
  return st;
}

/* A draft's fields; a target, when present, replaces the old one. */
static const db_stmt update_draft = {
    "consultations_update_draft",
    "WITH k AS (UPDATE consultations k SET"
    "   title = CASE WHEN $2::bool THEN $3 ELSE k.title END,"
    "   summary = CASE WHEN $4::bool THEN $5 ELSE k.summary END,"
    "   questions = CASE WHEN $6::bool THEN $7::jsonb ELSE k.questions END,"
    "   opens_at = CASE WHEN $8::bool THEN $9::timestamptz ELSE k.opens_at END,"
    "   closes_at = CASE WHEN $10::bool THEN $11::timestamptz ELSE k.closes_at END,"
    "   version = k.version + 1"
    "   WHERE k.id = $1 RETURNING k.id),"
    " ds AS (DELETE FROM consultation_target_sites WHERE $12::bool AND consultation_id = $1),"
    " dg AS (DELETE FROM consultation_target_groups WHERE $12::bool AND consultation_id = $1)"
    " SELECT 1 FROM k"};

static const db_stmt insert_targets = {
    "consultations_insert_targets",
    "WITH s AS (INSERT INTO consultation_target_sites (consultation_id, site_id)"
    "           SELECT $1, x::uuid FROM json_array_elements_text($2::json) x ON CONFLICT DO NOTHING)"
    " INSERT INTO consultation_target_groups (consultation_id, group_id)"
    " SELECT $1, x::uuid FROM json_array_elements_text($3::json) x ON CONFLICT DO NOTHING"};

fn_status consultations_db_update_draft(db_conn *db, const char *id, const json_t *body) {
  json_t *target = json_object_get(body, "target");
  char *questions = json_text(json_object_get(body, "questions"));
  fn_status st = db_exec_command(
      db, &update_draft,
      DB_ARGS(id, db_param_present(body, "title"), body_string(body, "title"), db_param_present(body, "summary"),
              body_string(body, "summary"), db_param_present(body, "questions"), questions,
              db_param_present(body, "opens_at"), body_string(body, "opens_at"), db_param_present(body, "closes_at"),
              body_string(body, "closes_at"), target ? "true" : "false"));
  free(questions);
  if (st == FN_OK && target) {
    char *sites = json_text(json_object_get(target, "site_ids"));
    char *groups = json_text(json_object_get(target, "group_ids"));
    const char *tparams[] = {id, sites, groups};
    st = db_exec_command(db, &insert_targets, 3, tparams);
    free(sites);
    free(groups);
  }
  return st;
}

/* The columns a change of status or deadline sets (consultation_column), each with a new version. */
static const db_stmt set_column[] = {
    [CONSULTATION_STATUS] = {"consultations_set_status",
                             "UPDATE consultations SET status = $2, version = version + 1 WHERE id = $1"},
    [CONSULTATION_CLOSES_AT] = {"consultations_set_closes_at",
                                "UPDATE consultations SET closes_at = $2::timestamptz, version = version + 1,"
                                /* an extended deadline is reminded of again, 48 hours before the new one
                                 * (notifications_jobs.c) */
                                " closing_soon_notified_at = NULL WHERE id = $1"},
};

fn_status consultations_db_set(db_conn *db, const char *id, consultation_column column, const char *value) {
  return db_exec_command(db, &set_column[column], DB_ARGS(id, value));
}

static const db_stmt is_extension = {
    "consultations_is_extension",
    "SELECT $2::timestamptz > closes_at AND $2::timestamptz > now() FROM consultations WHERE id = $1"};

fn_status consultations_db_is_extension(db_conn *db, const char *id, const char *closes_at, int *later) {
  return db_query_bool(db, &is_extension, DB_ARGS(id, closes_at), later);
}

static const db_stmt set_outcome = {"consultations_set_outcome",
                                    "UPDATE consultations SET status = 'outcome_published', version = version + 1,"
                                    " outcome = jsonb_build_object('summary', $2::text, 'actions', $3::jsonb,"
                                    "   'published_at', coalesce(outcome->>'published_at', rfc3339(now())))"
                                    " WHERE id = $1"};

fn_status consultations_db_set_outcome(db_conn *db, const char *id, const json_t *outcome) {
  char *actions = json_text(json_object_get(outcome, "actions"));
  fn_status st = db_exec_command(db, &set_outcome, DB_ARGS(id, body_string(outcome, "summary"), actions));
  free(actions);
  return st;
}

static const db_stmt touch = {"consultations_touch", "UPDATE consultations SET version = version + 1 WHERE id = $1"};

fn_status consultations_db_touch(db_conn *db, const char *id) { return db_exec_on(db, &touch, id); }

static const db_stmt questions_of = {"consultations_questions", "SELECT questions FROM consultations WHERE id = $1"};

fn_status consultations_db_questions(db_conn *db, const char *id, json_t **questions) {
  fn_status st = db_query_json(db, &questions_of, DB_ARGS(id), questions);
  return st != FN_OK || *questions != NULL ? st : FN_NOT_FOUND;
}

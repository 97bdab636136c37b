/* Every SQL statement about forum groups themselves, and the rules of who may see,
 * join, lead or close them (API.md sections 2 and 5). Memberships, terms and meetings
 * have their own modules but decide through group_access and the rules here. */
#include "forumnet/groups_db.h"

#include <stdio.h>
#include <string.h>

#include "forumnet/body.h"

/* The Group representation; `my` is the caller's membership row (may be NULL). */
// clang-format off
#define GROUP_FIELDS_SQL(F, SEP)                                                                                       \
  F("id", "g.id") SEP                                                                                                  \
  F("site_id", "g.site_id") SEP                                                                                        \
  F("name", "g.name") SEP                                                                                              \
  F("purpose", "g.purpose") SEP                                                                                        \
  F("composition", "g.composition") SEP                                                                                \
  F("focus", "g.focus") SEP                                                                                            \
  F("min_members", "g.min_members") SEP                                                                                \
  F("max_members", "g.max_members") SEP                                                                                \
  F("status", "g.status") SEP                                                                                          \
  F("member_count", "g.member_count") SEP                                                                              \
  F("terms_version", "g.terms_version") SEP                                                                            \
  F("closed_at", "rfc3339(g.closed_at)") SEP                                                                           \
  F("version", "g.version") SEP                                                                                        \
  F("created_at", "rfc3339(g.created_at)") SEP                                                                         \
  F("my_membership", "CASE WHEN my.member_id IS NULL THEN NULL ELSE json_build_object('state', my.state, 'role',"      \
                     " my.role) END")
// clang-format on
#define GROUP_JSON_SQL DB_JSON_OBJECT(GROUP_FIELDS_SQL)
#define GROUP_COLUMNS_SQL DB_COLUMNS(GROUP_FIELDS_SQL)

static const db_stmt lock_group = {"groups_lock", "SELECT 1 FROM groups WHERE id = $1 FOR UPDATE"};

/* No row: the caller is no longer active. A NULL group: there is no such group. */
static const db_stmt load_access = {
    "groups_access",
    "SELECT g.id IS NOT NULL, coalesce(g.site_id::text, ''), g.status, g.version, g.member_count, g.min_members,"
    " g.max_members, g.terms_version, c.role, coalesce(g.site_id = c.home_site_id, false),"
    " EXISTS (SELECT 1 FROM site_managers sm WHERE sm.member_id = c.id AND sm.site_id = g.site_id),"
    " coalesce(my.state, ''), coalesce(my.role, '')"
    " FROM members c"
    " LEFT JOIN groups g ON g.id = $1"
    " LEFT JOIN group_memberships my ON my.group_id = g.id AND my.member_id = c.id"
    " WHERE c.id = $2 AND c.status = 'active'"};

static const db_column access_columns[] = {
    DB_COL_SKIP,
    DB_COL_TEXT(group_access, site_id),
    DB_COL_TEXT(group_access, status),
    DB_COL_LONG(group_access, version),
    DB_COL_INT(group_access, member_count),
    DB_COL_INT(group_access, min_members),
    DB_COL_INT(group_access, max_members),
    DB_COL_INT(group_access, terms_version),
    DB_COL_ROLE(group_access, caller_role),
    DB_COL_BOOL(group_access, caller_home_site),
    DB_COL_BOOL(group_access, caller_manages_site),
    DB_COL_TEXT(group_access, my_state),
    DB_COL_TEXT(group_access, my_role),
    DB_COLUMNS_END,
};

fn_status groups_db_access(db_conn *db, const char *group_id, const char *caller_id, int lock, group_access *out) {
  fn_status st;
  memset(out, 0, sizeof *out);
  snprintf(out->group_id, sizeof out->group_id, "%s", group_id);
  snprintf(out->caller_id, sizeof out->caller_id, "%s", caller_id);
  PGresult *res = db_exec_found_locked(db, lock ? &lock_group : NULL, group_id, &load_access,
                                       DB_ARGS(group_id, caller_id), FN_UNAUTHENTICATED, &st);
  return res == NULL ? st : db_take_row(res, access_columns, out);
}

fn_status groups_db_lock_access(db_conn *db, const char *group_id, const char *caller_id, group_access *out) {
  fn_status st = db_begin(db);
  return st == FN_OK ? groups_db_access(db, group_id, caller_id, 1, out) : st;
}

/* The forming <-> active rule: at least min_members active members, terms published, and
 * every active member has accepted the current version. dormant and closed are manual.
 * The row is written when member_count or status change, or when $2 says the transaction
 * changed a caller's my_membership; $3 says whether that write raises version. */
static const db_stmt recompute = {
    "groups_recompute",
    "WITH s AS ("
    "  SELECT count(m.member_id)::int AS active,"
    "         count(m.member_id) FILTER (WHERE m.accepted_terms_version < g.terms_version)::int AS unaccepted"
    "  FROM groups g LEFT JOIN group_memberships m ON m.group_id = g.id AND m.state = 'active'"
    "  WHERE g.id = $1 GROUP BY g.id),"
    " n AS ("
    "  SELECT s.active, CASE WHEN g.status NOT IN ('forming', 'active') THEN g.status"
    "    WHEN s.active >= g.min_members AND g.terms_version >= 1 AND s.unaccepted = 0 THEN 'active'"
    "    ELSE 'forming' END AS status"
    "  FROM groups g, s WHERE g.id = $1)"
    " UPDATE groups g SET member_count = n.active, status = n.status,"
    "  version = g.version + CASE WHEN $3::bool THEN 1 ELSE 0 END"
    " FROM n WHERE g.id = $1 AND ($2::bool OR (g.member_count, g.status) IS DISTINCT FROM (n.active, n.status))"};

fn_status groups_db_recompute(db_conn *db, const char *group_id, group_change change) {
  return db_exec_command(db, &recompute,
                         DB_ARGS(group_id, change == GROUP_CHANGE_MEMBERSHIP ? "true" : "false",
                                 change == GROUP_CHANGE_VERSION_RAISED ? "false" : "true"));
}

static const db_stmt get_group = {"groups_get",
                                  "SELECT " GROUP_JSON_SQL ", g.version FROM groups g"
                                  " LEFT JOIN group_memberships my ON my.group_id = g.id AND my.member_id = $2"
                                  " WHERE g.id = $1"};

fn_status groups_db_get(db_conn *db, const char *group_id, const char *caller_id, db_representation *out) {
  return db_get_representation(db, &get_group, DB_ARGS(group_id, caller_id), &out->json, &out->version);
}

/* The visibility rule of groups_can_view, as a row filter. */
static const db_stmt list_groups = {
    "groups_list", "WITH c AS (SELECT id, role, home_site_id FROM members WHERE id = $1 AND status = 'active')"
                   " SELECT cursor_key(g.created_at, g.id), " GROUP_COLUMNS_SQL " FROM c CROSS JOIN groups g"
                   " LEFT JOIN group_memberships my ON my.group_id = g.id AND my.member_id = c.id"
                   " WHERE (g.created_at, g.id) > ($2::timestamptz, $3::uuid)"
                   "   AND ($4::uuid IS NULL OR g.site_id = $4::uuid)"
                   "   AND ($5::text IS NULL OR g.status = $5)"
                   "   AND (NOT $6::bool OR my.member_id IS NOT NULL)"
                   "   AND (c.role = 'admin' OR g.site_id IS NULL OR my.member_id IS NOT NULL"
                   "        OR (c.role IN ('practitioner', 'facilitator') AND g.site_id = c.home_site_id)"
                   "        OR (c.role = 'manager' AND g.site_id IN (SELECT sm.site_id FROM site_managers sm"
                   "                                                  WHERE sm.member_id = c.id)))"
                   " ORDER BY g.created_at, g.id LIMIT $7"};

fn_status groups_db_list(db_conn *db, const char *caller_id, const char *site_id, const char *status, int mine,
                         const page_request *page, PGresult **result) {
  return db_query_rows(db, &list_groups,
                       DB_ARGS(caller_id, page->after_ts, page->after_id, site_id, status, mine ? "true" : "false",
                               page->limit_plus_one),
                       result);
}

/* Integer member of a body as text for a parameter, or NULL when absent. */
static const char *int_param(const json_t *body, const char *key, char *buf, size_t len) {
  json_t *v = json_object_get(body, key);
  if (!json_is_integer(v))
    return NULL;
  snprintf(buf, len, "%lld", (long long)json_integer_value(v));
  return buf;
}

/* The proposer is the group's first active member, as convener. */
static const db_stmt insert_group = {
    "groups_insert",
    "WITH g AS (INSERT INTO groups (site_id, name, purpose, composition, focus, min_members, max_members,"
    "             created_by, member_count)"
    "           VALUES ($1::uuid, $2, $3, coalesce($4, 'multi_disciplinary'), coalesce($5, 'other'),"
    "                   coalesce($6::int, 4), coalesce($7::int, 8), $8, 1) RETURNING id),"
    " m AS (INSERT INTO group_memberships (group_id, member_id, state, role, joined_at)"
    "       SELECT id, $8, 'active', 'convener', clock_timestamp() FROM g)"
    " SELECT id FROM g"};

fn_status groups_db_insert(db_conn *db, const json_t *body, const char *creator_id, char id_out[UUID_TEXT_SIZE]) {
  char min[24], max[24];
  return db_query_copy(db, &insert_group,
                       DB_ARGS(body_string(body, "site_id"), body_string(body, "name"), body_string(body, "purpose"),
                               body_string(body, "composition"), body_string(body, "focus"),
                               int_param(body, "min_members", min, sizeof min),
                               int_param(body, "max_members", max, sizeof max), creator_id),
                       id_out, UUID_TEXT_SIZE);
}

/* (present, value) pairs. A requested status of forming or active is stored as forming
 * and then settled by groups_db_recompute. */
static const db_stmt update_group = {
    "groups_update", "UPDATE groups g SET"
                     " name = CASE WHEN $2::bool THEN $3 ELSE g.name END,"
                     " purpose = CASE WHEN $4::bool THEN $5 ELSE g.purpose END,"
                     " composition = CASE WHEN $6::bool THEN $7 ELSE g.composition END,"
                     " focus = CASE WHEN $8::bool THEN $9 ELSE g.focus END,"
                     " min_members = CASE WHEN $10::bool THEN $11::int ELSE g.min_members END,"
                     " max_members = CASE WHEN $12::bool THEN $13::int ELSE g.max_members END,"
                     " status = CASE WHEN $14::bool THEN"
                     "   CASE WHEN $15 IN ('forming', 'active') THEN 'forming' ELSE $15 END ELSE g.status END,"
                     " version = g.version + 1"
                     " WHERE g.id = $1"};

fn_status groups_db_update(db_conn *db, const char *group_id, const json_t *body) {
  char min[24], max[24];
  fn_status st = db_exec_command(
      db, &update_group,
      DB_ARGS(group_id, db_param_present(body, "name"), body_string(body, "name"), db_param_present(body, "purpose"),
              body_string(body, "purpose"), db_param_present(body, "composition"), body_string(body, "composition"),
              db_param_present(body, "focus"), body_string(body, "focus"), db_param_present(body, "min_members"),
              int_param(body, "min_members", min, sizeof min), db_param_present(body, "max_members"),
              int_param(body, "max_members", max, sizeof max), db_param_present(body, "status"),
              body_string(body, "status")));
  return st == FN_OK ? groups_db_recompute(db, group_id, GROUP_CHANGE_VERSION_RAISED) : st;
}

static const db_stmt close_group = {"groups_close",
                                    "UPDATE groups SET status = 'closed', closed_at = clock_timestamp(),"
                                    " version = version + 1 WHERE id = $1 AND status <> 'closed'"};

fn_status groups_db_close(db_conn *db, const char *group_id) { return db_exec_on(db, &close_group, group_id); }

static const db_stmt site_open_groups = {
    "groups_site_has_open", "SELECT EXISTS (SELECT 1 FROM groups WHERE site_id = $1 AND status <> 'closed')"};

fn_status groups_db_site_has_open_groups(db_conn *db, const char *site_id, int *open) {
  return db_query_bool(db, &site_open_groups, DB_ARGS(site_id), open);
}

/* Home-site visibility is for practitioners and facilitators; managers see the sites they
 * manage (a manager taken off a site stops seeing its groups). */
int groups_can_view(const group_access *a) {
  int works_there = (a->caller_role == ROLE_PRACTITIONER || a->caller_role == ROLE_FACILITATOR) && a->caller_home_site;
  return a->caller_role == ROLE_ADMIN || a->site_id[0] == '\0' || works_there || a->my_state[0] != '\0' ||
         (a->caller_role == ROLE_MANAGER && a->caller_manages_site);
}

int groups_is_active_member(const group_access *a) { return strcmp(a->my_state, "active") == 0; }

int groups_is_leader(const group_access *a) {
  return groups_is_active_member(a) && (strcmp(a->my_role, "convener") == 0 || strcmp(a->my_role, "facilitator") == 0);
}

fn_status groups_require_view(const group_access *a) { return groups_can_view(a) ? FN_OK : FN_NOT_FOUND; }

fn_status groups_require_inner(const group_access *a) {
  if (!groups_can_view(a))
    return FN_NOT_FOUND;
  return groups_is_active_member(a) ? FN_OK : FN_FORBIDDEN;
}

fn_status groups_require_leader(const group_access *a) {
  if (!groups_can_view(a))
    return FN_NOT_FOUND;
  return groups_is_leader(a) ? FN_OK : FN_FORBIDDEN;
}

fn_status groups_require_open(const group_access *a, const char **detail) {
  if (strcmp(a->status, "closed") != 0)
    return FN_OK;
  *detail = "The group is closed.";
  return FN_CONFLICT;
}

int groups_member_eligible(const group_access *a, member_role role, int home_site, int manages_site) {
  return a->site_id[0] == '\0' || home_site || manages_site || role == ROLE_FACILITATOR;
}

fn_status groups_can_create(const member_caller *caller, const char *site_id, int manages_site, const char **detail) {
  if (caller->role == ROLE_ADMIN)
    return FN_OK;
  if (site_id == NULL) {
    *detail = "Only an admin may create a network-wide group.";
    return FN_FORBIDDEN;
  }
  if (strcmp(caller->home_site_id, site_id) == 0 || (caller->role == ROLE_MANAGER && manages_site))
    return FN_OK;
  *detail = "Groups are proposed by members of that site.";
  return FN_FORBIDDEN;
}

fn_status groups_can_close(const group_access *a) {
  if (!groups_can_view(a))
    return FN_NOT_FOUND;
  if (groups_is_leader(a) || a->caller_role == ROLE_ADMIN || (a->caller_role == ROLE_MANAGER && a->caller_manages_site))
    return FN_OK;
  return FN_FORBIDDEN;
}

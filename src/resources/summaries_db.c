/* Every SQL statement of manager summaries (API.md section 8). They read counts only: no
 * names, notes or free text. Each figure has an index behind it (sql/005_summaries.sql). */
#include "forumnet/summaries_db.h"

#include <stdio.h>

/* $1 site ids (json array), $2 from, $3 to, $4 threshold for shared themes. Meetings count as
 * held when they started inside the window and before now; events are upcoming when published
 * and starting from now on; consultations count when not drafts and open during the window.
 * Each figure is a LATERAL subquery correlated to one site id, so the planner uses each table's
 * index for that site (summing whole tables and joining afterwards took seconds at N=1). */
static const db_stmt figures = {
    "summaries_figures",
    "SELECT s.id, si.name, gc.forming, gc.active, gc.dormant, gc.closed, am.n, pr.n, pr.in_groups, mt.held,"
    "  round(mt.rate, 3), mt.recorded, mt.present, cc.open, cc.closed, rr.targeted, rr.submitted,"
    "  (SELECT count(*) FROM events e WHERE e.status = 'published' AND e.starts_at >= now() AND e.network_wide)"
    "    + ev.n, er.n, coalesce(th.themes, '[]'::json)"
    " FROM json_array_elements_text($1::json) WITH ORDINALITY AS t(x, n)"
    " CROSS JOIN LATERAL (SELECT t.x::uuid AS id) s"
    " JOIN sites si ON si.id = s.id"
    " CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE g.status = 'forming') AS forming,"
    "     count(*) FILTER (WHERE g.status = 'active') AS active, count(*) FILTER (WHERE g.status = 'dormant') AS "
    "dormant,"
    "     count(*) FILTER (WHERE g.status = 'closed') AS closed FROM groups g WHERE g.site_id = s.id) gc"
    " CROSS JOIN LATERAL (SELECT count(DISTINCT gm.member_id) AS n FROM groups g"
    "     JOIN group_memberships gm ON gm.group_id = g.id AND gm.state = 'active'"
    "     JOIN members mm ON mm.id = gm.member_id AND mm.status = 'active'"
    "     WHERE g.site_id = s.id AND g.status <> 'closed') am"
    " CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE EXISTS ("
    "       SELECT 1 FROM group_memberships gm JOIN groups gg ON gg.id = gm.group_id"
    "       WHERE gm.member_id = m.id AND gm.state = 'active' AND gg.status <> 'closed')) AS in_groups"
    "     FROM members m WHERE m.home_site_id = s.id AND m.role = 'practitioner' AND m.status = 'active') pr"
    " CROSS JOIN LATERAL (SELECT count(*) AS held,"
    "       avg(x.present_count::numeric / nullif(x.attendance_count, 0)) AS rate,"
    "       coalesce(sum(x.attendance_count), 0) AS recorded, coalesce(sum(x.present_count), 0) AS present"
    "     FROM groups g JOIN meetings x ON x.group_id = g.id"
    "       AND x.starts_at >= $2::timestamptz AND x.starts_at < least($3::timestamptz, now())"
    "     WHERE g.site_id = s.id) mt"
    " CROSS JOIN LATERAL (SELECT json_agg(json_build_object('theme', z.theme, 'meetings', z.n)"
    "       ORDER BY z.n DESC, z.theme) AS themes"
    "     FROM (SELECT tt.theme, count(*) AS n FROM groups g JOIN meetings x ON x.group_id = g.id"
    "             AND x.starts_at >= $2::timestamptz AND x.starts_at < least($3::timestamptz, now())"
    "           CROSS JOIN LATERAL unnest(x.themes) AS tt(theme)"
    "           WHERE g.site_id = s.id GROUP BY tt.theme HAVING count(*) >= $4::int"
    "           ORDER BY count(*) DESC, tt.theme LIMIT 10) z) th"
    " CROSS JOIN LATERAL (SELECT array_agg(k.id) AS ids,"
    "       count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) = 'open') AS open,"
    "       count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) IN ('closed', 'outcome_published'))"
    "         AS closed"
    "     FROM consultations k"
    "     WHERE k.status <> 'draft' AND k.opens_at < $3::timestamptz AND k.closes_at >= $2::timestamptz"
    "       AND (k.id IN (SELECT ts.consultation_id FROM consultation_target_sites ts WHERE ts.site_id = s.id)"
    "            OR k.id IN (SELECT tg.consultation_id FROM consultation_target_groups tg"
    "                        JOIN groups gg ON gg.id = tg.group_id WHERE gg.site_id = s.id))) cc"
    " CROSS JOIN LATERAL (SELECT count(*) AS targeted, count(r.group_id) AS submitted"
    "     FROM unnest(cc.ids) AS k(id) CROSS JOIN LATERAL consultation_targeted_groups(k.id) AS tg(group_id)"
    "     JOIN groups gg ON gg.id = tg.group_id AND gg.site_id = s.id"
    "     LEFT JOIN consultation_responses r ON r.consultation_id = k.id AND r.group_id = gg.id"
    "       AND r.status = 'submitted') rr"
    " CROSS JOIN LATERAL (SELECT count(*) AS n FROM event_sites es JOIN events e ON e.id = es.event_id"
    "     WHERE es.site_id = s.id AND e.status = 'published' AND e.starts_at >= now() AND NOT e.network_wide) ev"
    " CROSS JOIN LATERAL (SELECT count(*) AS n FROM members m"
    "     JOIN event_registrations r ON r.member_id = m.id AND r.status IN ('going', 'waitlisted')"
    "       AND r.event_starts_at >= now() AND r.event_published"
    "     WHERE m.home_site_id = s.id) er"
    " ORDER BY t.n"};

fn_status summaries_db_figures(db_conn *db, const char *site_ids_json, const char *from, const char *to,
                               unsigned threshold, PGresult **result) {
  fn_status st;
  char t[16];
  snprintf(t, sizeof t, "%u", threshold);
  *result = db_exec(db, &figures, DB_ARGS(site_ids_json, from, to, t), &st);
  return st;
}

/* Admins summarise every open site, managers the sites listed for them. */
static const db_stmt site_page = {
    "summaries_site_page",
    "WITH c AS (SELECT id, role FROM members WHERE id = $1 AND status = 'active'),"
    " p AS (SELECT s.id, cursor_key(s.created_at, s.id) AS k FROM sites s, c"
    "       WHERE s.archived_at IS NULL AND (s.created_at, s.id) > ($2::timestamptz, $3::uuid)"
    "         AND (c.role = 'admin' OR (c.role = 'manager' AND EXISTS ("
    "              SELECT 1 FROM site_managers sm WHERE sm.site_id = s.id AND sm.member_id = c.id)))"
    "       ORDER BY s.created_at, s.id LIMIT $4)"
    " SELECT coalesce((SELECT json_agg(id ORDER BY k) FROM (SELECT id, k FROM p ORDER BY k LIMIT $4::int - 1) q),"
    "                 '[]'::json),"
    "  CASE WHEN (SELECT count(*) FROM p) >= $4::int"
    "       THEN (SELECT k FROM p ORDER BY k OFFSET $4::int - 2 LIMIT 1) ELSE '' END"};

fn_status summaries_db_site_page(db_conn *db, const char *caller_id, const page_request *page, char **ids,
                                 char next_key[SUMMARY_CURSOR_KEY_SIZE]) {
  fn_status st;
  PGresult *res =
      db_exec(db, &site_page, DB_ARGS(caller_id, page->after_ts, page->after_id, page->limit_plus_one), &st);
  if (res == NULL)
    return st;
  *ids = db_value_dup(res, 0, 0);
  db_value_copy(res, 0, 1, next_key, SUMMARY_CURSOR_KEY_SIZE);
  PQclear(res);
  return *ids ? FN_OK : FN_INTERNAL; /* never a NULL parameter: it would summarise no site */
}

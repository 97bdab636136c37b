/* Every SQL statement of manager summaries (API.md section 8). They read counts only: no
 * names, notes or free text. Each figure has an index behind it (sql/005_summaries.sql). */
#include "forumnet/summaries_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1 site ids (json array), $2 from, $3 to, $4 threshold for shared themes. Meetings count as
 * held when they started inside the window and before now; events are upcoming when published
 * and starting from now on; consultations count when not drafts and open during the window. */
static const db_stmt figures = {
    "summaries_figures",
    "WITH s AS (SELECT x::uuid AS id, n FROM json_array_elements_text($1::json) WITH ORDINALITY AS t(x, n)),"
    " g AS (SELECT gr.id, gr.site_id, gr.status FROM groups gr JOIN s ON gr.site_id = s.id),"
    " gc AS (SELECT site_id, count(*) FILTER (WHERE status = 'forming') AS forming,"
    "          count(*) FILTER (WHERE status = 'active') AS active,"
    "          count(*) FILTER (WHERE status = 'dormant') AS dormant,"
    "          count(*) FILTER (WHERE status = 'closed') AS closed FROM g GROUP BY site_id),"
    " am AS (SELECT g.site_id, count(DISTINCT gm.member_id) AS n FROM g"
    "          JOIN group_memberships gm ON gm.group_id = g.id AND gm.state = 'active'"
    "          JOIN members mm ON mm.id = gm.member_id AND mm.status = 'active'"
    "        WHERE g.status <> 'closed' GROUP BY g.site_id),"
    " pr AS (SELECT m.home_site_id AS site_id, count(*) AS n,"
    "          count(*) FILTER (WHERE EXISTS (SELECT 1 FROM group_memberships gm JOIN groups gg ON gg.id = gm.group_id"
    "            WHERE gm.member_id = m.id AND gm.state = 'active' AND gg.status <> 'closed')) AS in_groups"
    "        FROM members m JOIN s ON m.home_site_id = s.id"
    "        WHERE m.role = 'practitioner' AND m.status = 'active' GROUP BY m.home_site_id),"
    " mt AS (SELECT g.site_id, count(*) AS held,"
    "          avg(x.present_count::numeric / nullif(x.attendance_count, 0)) AS rate,"
    "          coalesce(sum(x.attendance_count), 0) AS recorded"
    "        FROM g JOIN meetings x ON x.group_id = g.id"
    "        WHERE x.starts_at >= $2::timestamptz AND x.starts_at < least($3::timestamptz, now())"
    "        GROUP BY g.site_id),"
    " th AS (SELECT site_id, json_agg(json_build_object('theme', theme, 'meetings', n) ORDER BY n DESC, theme) AS "
    "themes"
    "        FROM (SELECT g.site_id, t.theme, count(*) AS n,"
    "                     row_number() OVER (PARTITION BY g.site_id ORDER BY count(*) DESC, t.theme) AS rank"
    "              FROM g JOIN meetings x ON x.group_id = g.id"
    "                AND x.starts_at >= $2::timestamptz AND x.starts_at < least($3::timestamptz, now())"
    "              CROSS JOIN LATERAL unnest(x.themes) AS t(theme)"
    "              GROUP BY g.site_id, t.theme HAVING count(*) >= $4::int) z"
    "        WHERE rank <= 10 GROUP BY site_id),"
    " ct AS (SELECT s.id AS site_id, k.id, consultation_status(k.status, k.closes_at) AS status"
    "        FROM s JOIN consultations k ON k.status <> 'draft'"
    "          AND k.opens_at < $3::timestamptz AND k.closes_at >= $2::timestamptz"
    "        WHERE EXISTS (SELECT 1 FROM consultation_target_sites ts"
    "                      WHERE ts.consultation_id = k.id AND ts.site_id = s.id)"
    "           OR EXISTS (SELECT 1 FROM consultation_target_groups tg JOIN groups gg ON gg.id = tg.group_id"
    "                      WHERE tg.consultation_id = k.id AND gg.site_id = s.id)),"
    " cc AS (SELECT site_id, count(*) FILTER (WHERE status = 'open') AS open,"
    "          count(*) FILTER (WHERE status IN ('closed', 'outcome_published')) AS closed FROM ct GROUP BY site_id),"
    " rr AS (SELECT ct.site_id, count(*) AS targeted, count(r.group_id) AS submitted"
    "        FROM ct CROSS JOIN LATERAL consultation_targeted_groups(ct.id) AS tg(group_id)"
    "        JOIN groups gg ON gg.id = tg.group_id AND gg.site_id = ct.site_id"
    "        LEFT JOIN consultation_responses r ON r.consultation_id = ct.id AND r.group_id = gg.id"
    "          AND r.status = 'submitted'"
    "        GROUP BY ct.site_id),"
    " ev AS (SELECT s.id AS site_id, count(*) AS upcoming FROM s JOIN events e"
    "          ON e.status = 'published' AND e.starts_at >= now()"
    "         AND (e.network_wide OR EXISTS (SELECT 1 FROM event_sites es WHERE es.event_id = e.id AND es.site_id = "
    "s.id))"
    "        GROUP BY s.id),"
    " er AS (SELECT m.home_site_id AS site_id, count(*) AS n FROM event_registrations r"
    "          JOIN events e ON e.id = r.event_id AND e.status = 'published' AND e.starts_at >= now()"
    "          JOIN members m ON m.id = r.member_id JOIN s ON s.id = m.home_site_id"
    "        WHERE r.status IN ('going', 'waitlisted') GROUP BY m.home_site_id)"
    " SELECT s.id, si.name, coalesce(gc.forming, 0), coalesce(gc.active, 0), coalesce(gc.dormant, 0),"
    "  coalesce(gc.closed, 0), coalesce(am.n, 0), coalesce(pr.n, 0), coalesce(pr.in_groups, 0), coalesce(mt.held, 0),"
    "  round(mt.rate, 3), coalesce(mt.recorded, 0), coalesce(cc.open, 0), coalesce(cc.closed, 0),"
    "  coalesce(rr.targeted, 0), coalesce(rr.submitted, 0), coalesce(ev.upcoming, 0), coalesce(er.n, 0),"
    "  coalesce(th.themes, '[]'::json)"
    " FROM s JOIN sites si ON si.id = s.id"
    " LEFT JOIN gc ON gc.site_id = s.id LEFT JOIN am ON am.site_id = s.id LEFT JOIN pr ON pr.site_id = s.id"
    " LEFT JOIN mt ON mt.site_id = s.id LEFT JOIN th ON th.site_id = s.id LEFT JOIN cc ON cc.site_id = s.id"
    " LEFT JOIN rr ON rr.site_id = s.id LEFT JOIN ev ON ev.site_id = s.id LEFT JOIN er ON er.site_id = s.id"
    " ORDER BY s.n"};

fn_status summaries_db_figures(db_conn *db, const char *site_ids_json, const char *from, const char *to,
                               unsigned threshold, PGresult **result) {
  fn_status st;
  char t[16];
  snprintf(t, sizeof t, "%u", threshold);
  const char *params[] = {site_ids_json, from, to, t};
  *result = db_exec(db, &figures, 4, params, &st);
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
                                 char next_key[96]) {
  fn_status st;
  const char *params[] = {caller_id, page->after_ts, page->after_id, page->limit_plus_one};
  PGresult *res = db_exec(db, &site_page, 4, params, &st);
  if (res == NULL)
    return st;
  *ids = strdup(PQgetvalue(res, 0, 0));
  snprintf(next_key, 96, "%s", PQgetvalue(res, 0, 1));
  PQclear(res);
  return FN_OK;
}

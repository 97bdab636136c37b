/* Every SQL statement of manager summaries (API.md section 8). They read counts only: no
 * names, notes or free text. Each figure has an index behind it (sql/005_summaries.sql). */
#include "forumnet/summaries_db.h"

#include <stdio.h>

/* $1 site ids (json array), $2 from, $3 to (whole UTC days), $4 threshold for shared themes. Meetings count as
 * held when they started inside the window and before now; events are upcoming when published and starting
 * from now on; consultations count when not drafts and open during the window.
 *
 * The figures are those the database keeps for each site (sql/016_site_aggregates.sql): site_aggregates for
 * what does not depend on time, site_figures and site_theme_figures per UTC day and per UTC month for the rest.
 * A window [a, e) of whole days before today reads its whole months [ma, mb) from the monthly rows and its
 * edges [a, d1) and [d2, e) from the daily ones; "upcoming" reads the days after today in this month and the
 * months after it. The part of today before or after now() comes from the live rows, once for the whole page
 * (lm, lt, le, lr). Consultations are few: they are counted live. The same figures computed from the live rows
 * only are site_summary_figures_scratch(), which the tests compare with these. */
static const db_stmt figures = {
    "summaries_figures",
    "WITH t AS (SELECT x::uuid AS id, n FROM json_array_elements_text($1::json) WITH ORDINALITY AS t(x, n)),"
    " d AS (SELECT ($2::timestamptz AT TIME ZONE 'UTC')::date AS a,"
    "         least(($3::timestamptz AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date) AS e,"
    "         (now() AT TIME ZONE 'UTC')::date AS today),"
    " m AS (SELECT d.*, CASE WHEN date_trunc('month', a::timestamp)::date = a THEN a"
    "         ELSE (date_trunc('month', a::timestamp) + interval '1 month')::date END AS ma,"
    "         date_trunc('month', e::timestamp)::date AS mb,"
    "         (date_trunc('month', today::timestamp) + interval '1 month')::date AS nm"
    "       FROM d),"
    " w AS (SELECT m.*, CASE WHEN ma < mb THEN ma ELSE e END AS d1, CASE WHEN ma < mb THEN mb ELSE e END AS d2"
    "       FROM m),"
    " lm AS MATERIALIZED (SELECT g.site_id, count(*) AS held,"
    "          coalesce(sum(x.present_count::numeric / nullif(x.attendance_count, 0)), 0) AS rate_sum,"
    "          count(nullif(x.attendance_count, 0)) AS rated, sum(x.attendance_count) AS recorded,"
    "          sum(x.present_count) AS present"
    "        FROM meetings x JOIN groups g ON g.id = x.group_id"
    "        WHERE x.starts_at >= greatest($2::timestamptz, date_trunc('day', now(), 'UTC'))"
    "          AND x.starts_at < least($3::timestamptz, now()) AND g.site_id IN (SELECT id FROM t)"
    "        GROUP BY g.site_id),"
    " lt AS MATERIALIZED (SELECT g.site_id, st.id AS theme_id, count(*) AS n"
    "        FROM meetings x JOIN groups g ON g.id = x.group_id CROSS JOIN LATERAL unnest(x.themes) AS tt(theme)"
    "          JOIN summary_themes st ON st.name = tt.theme"
    "        WHERE x.starts_at >= greatest($2::timestamptz, date_trunc('day', now(), 'UTC'))"
    "          AND x.starts_at < least($3::timestamptz, now()) AND g.site_id IN (SELECT id FROM t)"
    "        GROUP BY g.site_id, st.id),"
    " le AS MATERIALIZED (SELECT es.site_id, count(*) AS n FROM events e JOIN event_sites es ON es.event_id = e.id"
    "        WHERE e.status = 'published' AND e.starts_at >= now()"
    "          AND e.starts_at < date_trunc('day', now(), 'UTC') + interval '24 hours'"
    "          AND NOT e.network_wide AND es.site_id IN (SELECT id FROM t) GROUP BY es.site_id),"
    " lr AS MATERIALIZED (SELECT y.site_id, count(*) AS n"
    "        FROM (SELECT (SELECT mm.home_site_id FROM members mm WHERE mm.id = r.member_id) AS site_id"
    "              FROM event_registrations r"
    "              WHERE r.status IN ('going', 'waitlisted') AND r.event_published AND r.event_starts_at >= now()"
    "                AND r.event_starts_at < date_trunc('day', now(), 'UTC') + interval '24 hours'"
    "              OFFSET 0) y"
    "        WHERE y.site_id IN (SELECT id FROM t) GROUP BY y.site_id)"
    " SELECT s.id, si.name, sa.groups_forming, sa.groups_active, sa.groups_dormant, sa.groups_closed,"
    "  sa.active_members, sa.practitioners, sa.practitioners_in_groups,"
    "  coalesce(mt.held, 0) + coalesce(lm.held, 0),"
    "  round((coalesce(mt.rate_sum, 0) + coalesce(lm.rate_sum, 0))"
    "        / nullif(coalesce(mt.rated, 0) + coalesce(lm.rated, 0), 0)::numeric, 3),"
    "  coalesce(mt.recorded, 0) + coalesce(lm.recorded, 0), coalesce(mt.present, 0) + coalesce(lm.present, 0),"
    "  cc.open, cc.closed, rr.targeted, rr.submitted,"
    "  (SELECT count(*) FROM events e WHERE e.status = 'published' AND e.starts_at >= now() AND e.network_wide)"
    "    + coalesce(up.events, 0) + coalesce(le.n, 0), coalesce(up.registrations, 0) + coalesce(lr.n, 0),"
    "  coalesce(th.themes, '[]'::json)"
    " FROM t CROSS JOIN w"
    " CROSS JOIN LATERAL (SELECT t.id) s"
    " JOIN sites si ON si.id = s.id"
    " JOIN site_aggregates sa ON sa.site_id = s.id"
    " LEFT JOIN lm ON lm.site_id = s.id LEFT JOIN le ON le.site_id = s.id LEFT JOIN lr ON lr.site_id = s.id"
    " CROSS JOIN LATERAL (SELECT sum(f.held) AS held, sum(f.rate_sum) AS rate_sum, sum(f.rated) AS rated,"
    "       sum(f.recorded) AS recorded, sum(f.present) AS present"
    "     FROM (SELECT * FROM site_figures f WHERE f.site_id = s.id AND f.monthly AND f.bucket >= w.ma"
    "             AND f.bucket < w.mb"
    "           UNION ALL SELECT * FROM site_figures f WHERE f.site_id = s.id AND NOT f.monthly AND f.bucket >= w.a"
    "             AND f.bucket < w.d1"
    "           UNION ALL SELECT * FROM site_figures f WHERE f.site_id = s.id AND NOT f.monthly AND f.bucket >= w.d2"
    "             AND f.bucket < w.e) f) mt"
    " CROSS JOIN LATERAL (SELECT sum(f.events) AS events, sum(f.registrations) AS registrations"
    "     FROM (SELECT * FROM site_figures f WHERE f.site_id = s.id AND f.monthly AND f.bucket >= w.nm"
    "           UNION ALL SELECT * FROM site_figures f WHERE f.site_id = s.id AND NOT f.monthly"
    "             AND f.bucket > w.today AND f.bucket < w.nm) f) up"
    " CROSS JOIN LATERAL (SELECT json_agg(json_build_object('theme', z.theme, 'meetings', z.n)"
    "       ORDER BY z.n DESC, z.theme) AS themes"
    "     FROM (SELECT st.name AS theme, y.n"
    "           FROM (SELECT f.theme_id, sum(f.n) AS n"
    "                 FROM (SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id = s.id AND f.monthly"
    "                         AND f.bucket >= w.ma AND f.bucket < w.mb"
    "                       UNION ALL SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id = s.id"
    "                         AND NOT f.monthly AND f.bucket >= w.a AND f.bucket < w.d1"
    "                       UNION ALL SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id = s.id"
    "                         AND NOT f.monthly AND f.bucket >= w.d2 AND f.bucket < w.e"
    "                       UNION ALL SELECT lt.theme_id, lt.n FROM lt WHERE lt.site_id = s.id) f"
    "                 GROUP BY f.theme_id HAVING sum(f.n) > 0 AND sum(f.n) >= $4::int) y"
    "           JOIN summary_themes st ON st.id = y.theme_id"
    "           ORDER BY y.n DESC, st.name LIMIT 10) z) th"
    " CROSS JOIN LATERAL (SELECT array_agg(k.id) AS ids,"
    "       count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) = 'open') AS open,"
    "       count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) IN ('closed', 'outcome_published'))"
    "         AS closed"
    "     FROM consultations k"
    "     WHERE k.status <> 'draft' AND k.opens_at < $3::timestamptz AND k.closes_at >= $2::timestamptz"
    "       AND k.id IN (SELECT ts.consultation_id FROM consultation_target_sites ts WHERE ts.site_id = s.id"
    "                    UNION SELECT tg.consultation_id FROM consultation_target_groups tg"
    "                      JOIN groups gg ON gg.id = tg.group_id WHERE gg.site_id = s.id)) cc"
    /* consultation_targeted_groups(k.id) restricted to the site's groups, without listing the other sites' */
    " CROSS JOIN LATERAL (SELECT count(*) AS targeted, count(*) FILTER (WHERE EXISTS ("
    "       SELECT 1 FROM consultation_responses r WHERE r.consultation_id = k.id AND r.group_id = tg.group_id"
    "         AND r.status = 'submitted')) AS submitted"
    "     FROM unnest(cc.ids) AS k(id)"
    "     CROSS JOIN LATERAL (SELECT tg.group_id FROM consultation_target_groups tg"
    "         JOIN groups gg ON gg.id = tg.group_id AND gg.site_id = s.id WHERE tg.consultation_id = k.id"
    "       UNION SELECT gg.id FROM consultation_target_sites ts"
    "         JOIN groups gg ON gg.site_id = ts.site_id AND gg.status <> 'closed'"
    "         WHERE ts.consultation_id = k.id AND ts.site_id = s.id) tg) rr"
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

/* Every SQL statement of manager summaries (API.md section 8). They read counts only: no
 * names, notes or free text. Each figure has an index behind it (sql/005_summaries.sql). */
#include "forumnet/summaries_db.h"

#include <stdio.h>

/* $1 site ids (json array), $2 from, $3 to (whole UTC days), $4 threshold for shared themes. Meetings count as
 * held when they started inside the window and before now; events are upcoming when published and starting
 * from now on; consultations count when not drafts and open during the window.
 *
 * The figures are those the database keeps for each site (sql/016_site_aggregates.sql): site_aggregates for
 * what does not depend on time, site_figures and site_theme_figures per UTC hour, day and month for the rest
 * (span 'h', 'd', 'm'). A window [a, z) of whole days reads, before today (e), its whole months [ma, mb) from
 * the monthly rows and its edges [a, d1) and [d2, e) from the daily ones, then today's whole hours [hs, he)
 * from the hourly ones; "upcoming" reads the hours after this one today, the days after today in this month
 * and the months after it. The hour of now() comes from the live rows, once for the whole page (lm, lt, le,
 * lr). Consultations are few: they are counted live, from their targets; the groups a consultation asks at a
 * site are one pass over the site's groups, joined to its submitted responses (not a lookup per group). Theme
 * counts are summed as integers (lt's bigint count would make every sum numeric, slower). The per-site figures
 * are scalar subqueries of k (arrays), so that planning the statement does not search join orders over a dozen
 * lateral subqueries. (On seed --scale 1 the plan cache settles on a generic plan for the default window: no
 * planning per page, about 3 ms of the page's 20 before.) The same figures computed from the live rows only are
 * site_summary_figures_scratch(), which the tests compare with these. */
static const db_stmt figures = {
    "summaries_figures",
    "WITH t AS (SELECT x::uuid AS id, n FROM json_array_elements_text($1::json) WITH ORDINALITY AS t(x, n)),"
    "  d AS (SELECT $2::timestamptz AT TIME ZONE 'UTC' AS a, $3::timestamptz AT TIME ZONE 'UTC' AS z,"
    "          date_trunc('day', now() AT TIME ZONE 'UTC') AS today, date_trunc('hour', now() AT TIME ZONE"
    "            'UTC') AS hr),"
    "  m AS (SELECT d.*, least(z, today) AS e,"
    "          CASE WHEN date_trunc('month', a) = a THEN a ELSE date_trunc('month', a) + interval '1 month'"
    "            END AS ma,"
    "          date_trunc('month', least(z, today)) AS mb, date_trunc('month', today) + interval '1 month' AS"
    "            nm"
    "        FROM d),"
    "  w AS (SELECT m.*, CASE WHEN ma < mb THEN ma ELSE e END AS d1, CASE WHEN ma < mb THEN mb ELSE e END AS"
    "    d2,"
    "          greatest(a, today) AS hs, least(z, hr) AS he, hr + interval '1 hour' AS hn, today + interval"
    "            '1 day' AS tomorrow"
    "        FROM m),"
    "  lm AS MATERIALIZED (SELECT g.site_id, count(*) AS held,"
    "           coalesce(sum(x.present_count::numeric / nullif(x.attendance_count, 0)), 0) AS rate_sum,"
    "           count(nullif(x.attendance_count, 0)) AS rated, sum(x.attendance_count) AS recorded,"
    "           sum(x.present_count) AS present"
    "         FROM meetings x JOIN groups g ON g.id = x.group_id"
    "         WHERE x.starts_at >= greatest($2::timestamptz, date_trunc('hour', now(), 'UTC'))"
    "           AND x.starts_at < least($3::timestamptz, now()) AND g.site_id IN (SELECT id FROM t)"
    "         GROUP BY g.site_id),"
    "  lt AS MATERIALIZED (SELECT g.site_id, st.id AS theme_id, count(*) AS n"
    "         FROM meetings x JOIN groups g ON g.id = x.group_id CROSS JOIN LATERAL unnest(x.themes) AS"
    "           tt(theme)"
    "           JOIN summary_themes st ON st.name = tt.theme"
    "         WHERE x.starts_at >= greatest($2::timestamptz, date_trunc('hour', now(), 'UTC'))"
    "           AND x.starts_at < least($3::timestamptz, now()) AND g.site_id IN (SELECT id FROM t)"
    "         GROUP BY g.site_id, st.id),"
    "  le AS MATERIALIZED (SELECT es.site_id, count(*) AS n FROM events e JOIN event_sites es ON es.event_id"
    "    = e.id"
    "         WHERE e.status = 'published' AND e.starts_at >= now()"
    "           AND e.starts_at < date_trunc('hour', now(), 'UTC') + interval '1 hour'"
    "           AND NOT e.network_wide AND es.site_id IN (SELECT id FROM t) GROUP BY es.site_id),"
    "  lr AS MATERIALIZED (SELECT mm.home_site_id AS site_id, count(*) AS n"
    "         FROM event_registrations r JOIN members mm ON mm.id = r.member_id"
    "         WHERE r.status IN ('going', 'waitlisted') AND r.event_published AND r.event_starts_at >= now()"
    "           AND r.event_starts_at < date_trunc('hour', now(), 'UTC') + interval '1 hour'"
    "           AND mm.home_site_id IN (SELECT id FROM t)"
    "         GROUP BY mm.home_site_id),"
    "  k AS (SELECT t.id, t.n,"
    "      (SELECT ARRAY[coalesce(sum(f.held), 0), coalesce(sum(f.rate_sum), 0), coalesce(sum(f.rated), 0),"
    "                    coalesce(sum(f.recorded), 0), coalesce(sum(f.present), 0)]"
    "       FROM (SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'm' AND f.bucket >= w.ma"
    "         AND f.bucket < w.mb"
    "             UNION ALL SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'd' AND f.bucket"
    "               >= w.a AND f.bucket < w.d1"
    "             UNION ALL SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'd' AND f.bucket"
    "               >= w.d2 AND f.bucket < w.e"
    "             UNION ALL SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'h' AND f.bucket"
    "               >= w.hs AND f.bucket < w.he"
    "            ) f) AS mt,"
    "      (SELECT ARRAY[coalesce(sum(f.events), 0), coalesce(sum(f.registrations), 0)]"
    "       FROM (SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'h' AND f.bucket >= w.hn"
    "         AND f.bucket < w.tomorrow"
    "             UNION ALL SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'd' AND f.bucket"
    "               >= w.tomorrow AND f.bucket < w.nm"
    "             UNION ALL SELECT * FROM site_figures f WHERE f.site_id = t.id AND f.span = 'm' AND f.bucket"
    "               >= w.nm) f) AS up,"
    "      (SELECT json_agg(json_build_object('theme', z.theme, 'meetings', z.n) ORDER BY z.n DESC, z.theme)"
    "       FROM (SELECT st.name AS theme, y.n"
    "             FROM (SELECT f.theme_id, sum(f.n) AS n"
    "                   FROM (SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id = t.id AND"
    "                     f.span = 'm' AND f.bucket >= w.ma AND f.bucket < w.mb"
    "                         UNION ALL SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id ="
    "                           t.id AND f.span = 'd' AND f.bucket >= w.a AND f.bucket < w.d1"
    "                         UNION ALL SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id ="
    "                           t.id AND f.span = 'd' AND f.bucket >= w.d2 AND f.bucket < w.e"
    "                         UNION ALL SELECT f.theme_id, f.n FROM site_theme_figures f WHERE f.site_id ="
    "                           t.id AND f.span = 'h' AND f.bucket >= w.hs AND f.bucket < w.he"
    "                         UNION ALL SELECT lt.theme_id, lt.n::int FROM lt WHERE lt.site_id = t.id) f"
    "                   GROUP BY f.theme_id HAVING sum(f.n) > 0 AND sum(f.n) >= $4::int) y"
    "             JOIN summary_themes st ON st.id = y.theme_id"
    "             ORDER BY y.n DESC, st.name LIMIT 10) z) AS themes,"
    "      (SELECT ARRAY[count(*) FILTER (WHERE consultation_status(c.status, c.closes_at) = 'open'),"
    "                    count(*) FILTER (WHERE consultation_status(c.status, c.closes_at) IN ('closed',"
    "                      'outcome_published')),"
    "                    coalesce(sum(g.targeted), 0)::bigint, coalesce(sum(g.submitted), 0)::bigint]"
    "       FROM (SELECT x.id, bool_or(x.by_site) AS by_site"
    "             FROM (SELECT ts.consultation_id AS id, true AS by_site FROM consultation_target_sites ts"
    "                   WHERE ts.site_id = t.id"
    "                   UNION ALL SELECT tg.consultation_id, false FROM consultation_target_groups tg"
    "                     JOIN groups gg ON gg.id = tg.group_id WHERE gg.site_id = t.id) x"
    "             GROUP BY x.id) q"
    "       JOIN consultations c ON c.id = q.id"
    "       CROSS JOIN LATERAL (SELECT count(*) AS targeted, count(r.group_id) AS submitted"
    "             FROM groups gg LEFT JOIN consultation_responses r ON r.consultation_id = q.id"
    "               AND r.group_id = gg.id AND r.status = 'submitted'"
    "             WHERE gg.site_id = t.id AND ((q.by_site AND gg.status <> 'closed') OR EXISTS ("
    "               SELECT 1 FROM consultation_target_groups tg WHERE tg.consultation_id = q.id"
    "                 AND tg.group_id = gg.id))) g"
    "       WHERE c.status <> 'draft' AND c.opens_at < $3::timestamptz AND c.closes_at >= $2::timestamptz) AS cr"
    "    FROM t, w OFFSET 0)"
    " SELECT k.id, si.name, sa.groups_forming, sa.groups_active, sa.groups_dormant, sa.groups_closed,"
    "   sa.active_members, sa.practitioners, sa.practitioners_in_groups,"
    "   k.mt[1] + coalesce(lm.held, 0),"
    "   round((k.mt[2] + coalesce(lm.rate_sum, 0)) / nullif(k.mt[3] + coalesce(lm.rated, 0), 0), 3),"
    "   k.mt[4] + coalesce(lm.recorded, 0), k.mt[5] + coalesce(lm.present, 0),"
    "   k.cr[1], k.cr[2], k.cr[3], k.cr[4],"
    "   (SELECT count(*) FROM events e WHERE e.status = 'published' AND e.starts_at >= now() AND"
    "     e.network_wide)"
    "     + k.up[1] + coalesce(le.n, 0), k.up[2] + coalesce(lr.n, 0),"
    "   coalesce(k.themes, '[]'::json)"
    " FROM k JOIN sites si ON si.id = k.id JOIN site_aggregates sa ON sa.site_id = k.id"
    " LEFT JOIN lm ON lm.site_id = k.id LEFT JOIN le ON le.site_id = k.id LEFT JOIN lr ON lr.site_id = k.id"
    " ORDER BY k.n"};

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

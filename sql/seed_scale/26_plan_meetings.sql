-- Meetings go to groups in proportion to how long each has been meeting (from 14 days after it was
-- created to when it stopped, or 30 days ahead), weighted by status: mostly active and dormant groups.
-- A group's meetings are evenly spread with jitter, 9:00-18:30, 1 to 3 hours. 95% of ended meetings
-- have their attendance recorded. r is MATERIALIZED so each group's range is computed once, not per row.
CREATE TEMP TABLE sc_meeting ON COMMIT DROP AS
WITH w AS (
  SELECT gf.g, gf.created, gf.conv_id, x.ws, x.we,
         round((CASE gf.status WHEN 'active' THEN 1.0 WHEN 'forming' THEN 0.15 ELSE 0.8 END
                * greatest(extract(epoch FROM x.we - x.ws) / 86400, 1))::numeric, 3) AS w
  FROM sc_gfin gf CROSS JOIN sc_p p
  CROSS JOIN LATERAL (SELECT gf.created + interval '14 days' AS ws,
                             CASE WHEN gf.ended IS NOT NULL THEN gf.ended - interval '1 day'
                                  ELSE p.t0 + interval '30 days' END AS we) x),
c AS (
  SELECT w.*, sum(w.w) OVER (ORDER BY w.g) AS cw, sum(w.w) OVER () AS tw,
         coalesce(sum(w.w) OVER (ORDER BY w.g ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cwb
  FROM w),
r AS MATERIALIZED (
  SELECT c.g, c.created, c.conv_id, c.ws, c.we, round(c.cwb / c.tw * p.n_meetings)::int AS m_lo,
         round(c.cw / c.tw * p.n_meetings)::int AS m_hi
  FROM c CROSS JOIN sc_p p),
m AS (
  SELECT r.g, mi, r.conv_id, r.created,
         date_trunc('day', r.ws + (mi - r.m_lo - 0.9 + 0.8 * pg_temp.u(p.seed, 30, mi))
                                  / (r.m_hi - r.m_lo) * (r.we - r.ws), 'UTC')
           + (9 + floor(9 * pg_temp.u(p.seed, 31, mi))) * interval '1 hour'
           + CASE WHEN pg_temp.u(p.seed, 32, mi) < 0.5 THEN interval '30 minutes' ELSE interval '0' END
           AS starts_at
  FROM r CROSS JOIN sc_p p CROSS JOIN LATERAL generate_series(r.m_lo + 1, r.m_hi) mi)
SELECT m.g, m.mi, md5('forumnet:' || p.seed || ':meeting:' || m.mi)::uuid AS id, m.conv_id, m.created,
       m.starts_at, e.ends_at, e.ends_at < p.t0 AND pg_temp.u(p.seed, 34, m.mi) < 0.95 AS recorded
FROM m CROSS JOIN sc_p p
CROSS JOIN LATERAL (SELECT m.starts_at + (60 + 30 * floor(5 * pg_temp.u(p.seed, 33, m.mi)))
                                         * interval '1 minute' AS ends_at) e;

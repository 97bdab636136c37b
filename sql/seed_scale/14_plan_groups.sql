-- Statuses ~70% active, 12% forming, 10% dormant, 8% closed (a planned 'active' network group short of
-- members ends up forming); active groups have 4..8 active members. Forming groups are recent, dormant
-- and closed ones old enough to have met; `ended` is when a dormant group stopped or a closed one closed.
CREATE TEMP TABLE sc_group ON COMMIT DROP AS
WITH b AS (
  SELECT si.s, si.g_lo + j AS g, si.pool_hi - si.pool_lo AS pool
  FROM sc_site si, generate_series(1, si.g_hi - si.g_lo) j
  UNION ALL
  SELECT NULL, p.n_site_groups + j, 0 FROM sc_p p, generate_series(1, p.n_net) j),
c AS (
  SELECT b.g, b.s, b.pool, p.t0,
         CASE WHEN r.x < 0.70 THEN 'active' WHEN r.x < 0.82 THEN 'forming' WHEN r.x < 0.92 THEN 'dormant'
              ELSE 'closed' END AS plan,
         pg_temp.u(p.seed, 11, b.g) AS y, pg_temp.u(p.seed, 12, b.g) AS z,
         pg_temp.u(p.seed, 13, b.g) AS kx, pg_temp.u(p.seed, 14, b.g) < 0.25 AS req,
         pg_temp.u(p.seed, 15, b.g) < 0.15 AS inv, pg_temp.u(p.seed, 16, b.g) < 0.4 AS no_terms,
         pg_temp.u(p.seed, 17, b.g) AS ox, pg_temp.u(p.seed, 18, b.g) < 0.35 AS rep
  FROM b CROSS JOIN sc_p p CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 10, b.g) AS x) r),
d AS (
  SELECT c.*, c.t0 - CASE c.plan WHEN 'forming' THEN 10 + 355 * c.y WHEN 'active' THEN 60 + 1035 * c.y
                                 ELSE 120 + 975 * c.y END * interval '1 day' AS created
  FROM c)
SELECT g, s, plan, created,
       CASE WHEN plan IN ('dormant', 'closed')
            THEN created + interval '60 days' + z * (t0 - created - interval '60 days') END AS ended,
       (CASE plan WHEN 'active' THEN 4 + floor(5 * kx) WHEN 'forming' THEN 1 + floor(6 * kx)
                  WHEN 'dormant' THEN 3 + floor(6 * kx) ELSE 2 + floor(7 * kx) END)::int AS k,
       s IS NOT NULL AND plan <> 'closed' AND req AS req,
       s IS NOT NULL AND plan <> 'closed' AND inv AS inv,
       CASE WHEN plan = 'forming' AND no_terms THEN 0 ELSE 1 END AS terms,
       floor(ox * pool)::int AS o,
       s IS NOT NULL AND plan <> 'forming' AND rep AS rep
FROM d;

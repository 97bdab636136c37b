-- Sites differ in size (weight 0.4 .. 1.6); ranges come from exact numeric running sums, so they
-- tile the members and groups without gaps or overlaps.
CREATE TEMP TABLE sc_site ON COMMIT DROP AS
SELECT s, md5('forumnet:' || p.seed || ':site:' || s)::uuid AS id,
       12 * (s - 1) + round(cw_before / tw * (p.n_pool - 12 * p.n_sites))::int AS pool_lo,
       12 * s + round(cw / tw * (p.n_pool - 12 * p.n_sites))::int AS pool_hi,
       round(cw_before / tw * p.n_site_groups)::int AS g_lo,
       round(cw / tw * p.n_site_groups)::int AS g_hi
FROM sc_p p,
     (SELECT s, sum(w) OVER (ORDER BY s) AS cw, sum(w) OVER () AS tw,
             coalesce(sum(w) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS cw_before
      FROM (SELECT s, round((0.4 + 1.2 * pg_temp.u(p.seed, 1, s))::numeric, 6) AS w
            FROM sc_p p, generate_series(1, p.n_sites) s) x) y;

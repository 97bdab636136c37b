-- Admins 1..A (~0.07%), two manager slots per site (the second a manager half the time: ~1% admins
-- and managers in all), then each site's pool, ~8% facilitators.
CREATE TEMP TABLE sc_member ON COMMIT DROP AS
SELECT x.n, md5('forumnet:' || p.seed || ':member:' || x.n)::uuid AS id, x.s,
       CASE WHEN x.kind <> 'pool' THEN x.kind
            WHEN pg_temp.u(p.seed, 3, x.n) < 0.08 THEN 'facilitator' ELSE 'practitioner' END AS role
FROM sc_p p,
     LATERAL (SELECT n, NULL::int AS s, 'admin' AS kind FROM generate_series(1, p.n_admins) n
              UNION ALL
              SELECT p.n_admins + 2 * s - 1, s, 'manager' FROM generate_series(1, p.n_sites) s
              UNION ALL
              SELECT p.n_admins + 2 * s, s,
                     CASE WHEN pg_temp.u(p.seed, 2, s) < 0.5 THEN 'manager' ELSE 'practitioner' END
              FROM generate_series(1, p.n_sites) s
              UNION ALL
              SELECT p.n_admins + 2 * p.n_sites + si.pool_lo + k, si.s, 'pool'
              FROM sc_site si, generate_series(1, si.pool_hi - si.pool_lo) k) x;

-- $1 seed, $2 the shared password hash, $3 N. At least 12 pool members per site, so that a group
-- (8 active + 2 asking) always finds distinct members at its site.
CREATE TEMP TABLE sc_p ON COMMIT DROP AS
SELECT seed, pwhash, t0, n_sites, n_admins, n_members, n_members - n_admins - 2 * n_sites AS n_pool,
       n_groups, n_net, n_groups - n_net AS n_site_groups, n_meetings, n_consultations, n_events, n_partners
FROM (SELECT *, greatest(round(30000 * scale)::int, n_admins + 14 * n_sites) AS n_members,
             CASE WHEN n_groups >= 2 THEN greatest(1, round(0.02 * n_groups)::int) ELSE 0 END AS n_net
      FROM (SELECT $1::bigint AS seed, $2::text AS pwhash, date_trunc('day', now(), 'UTC') AS t0,
                   $3::float8 AS scale,
                   greatest(1, round(200 * $3::float8))::int AS n_sites,
                   greatest(1, round(20 * $3::float8))::int AS n_admins,
                   greatest(1, round(5000 * $3::float8))::int AS n_groups,
                   greatest(1, round(250000 * $3::float8))::int AS n_meetings,
                   greatest(1, round(1000 * $3::float8))::int AS n_consultations,
                   greatest(1, round(20000 * $3::float8))::int AS n_events,
                   greatest(1, round(20 * $3::float8))::int AS n_partners) a) b;

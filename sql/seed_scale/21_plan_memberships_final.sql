-- Accepted terms (acc): everybody active in a group with terms, except that a forming group with
-- enough members has its newest member still to accept (else the rule would make it active), and in a
-- small forming group each member has accepted with probability 0.7.
CREATE TEMP TABLE sc_ms ON COMMIT DROP AS
SELECT gm.g, gm.slot, gm.mid, gm.state, gm.role, gm.rep_of, gf.id AS gid,
       CASE WHEN gm.state <> 'active' OR gf.terms = 0 THEN 0
            WHEN gf.status = 'forming' AND gf.active >= 4 THEN (gm.slot <> gf.active - 1)::int
            WHEN gf.status = 'forming' THEN (pg_temp.u(p.seed, 20, gm.g::bigint * 16 + gm.slot) < 0.7)::int
            ELSE 1 END AS acc,
       CASE WHEN gm.state = 'active'
            THEN gf.created + gm.slot * interval '1 day'
                 + pg_temp.u(p.seed, 21, gm.g::bigint * 16 + gm.slot) * interval '12 hours' END AS joined,
       CASE WHEN gm.state <> 'active'
            THEN greatest(gf.created + interval '10 days',
                          p.t0 - pg_temp.u(p.seed, 22, gm.g::bigint * 16 + gm.slot) * interval '60 days')
            END AS asked
FROM sc_gm gm JOIN sc_gfin gf ON gf.g = gm.g CROSS JOIN sc_p p;

-- A network-wide group is convened by an admin; its other members are representatives of open site
-- groups (each representative in one network group), dealt round-robin, at most 7 per group.
INSERT INTO sc_gm (g, slot, n, mid, state, role, rep_of)
SELECT gr.g, 0, m.n, m.id, 'active', 'convener', NULL
FROM sc_group gr CROSS JOIN sc_p p JOIN sc_member m ON m.n = 1 + gr.g % p.n_admins
WHERE gr.s IS NULL
UNION ALL
SELECT p.n_site_groups + 1 + (r.r - 1) % p.n_net, 1 + (r.r - 1) / p.n_net, r.n, r.mid, 'active',
       'representative', r.from_g
FROM sc_p p,
     (SELECT d.n, d.mid, d.from_g, row_number() OVER (ORDER BY d.n) AS r
      FROM (SELECT DISTINCT ON (gm.n) gm.n, gm.mid, gm.g AS from_g
            FROM sc_gm gm JOIN sc_group gr ON gr.g = gm.g
            WHERE gm.role = 'representative' AND gr.plan <> 'closed' ORDER BY gm.n, gm.g) d) r
WHERE (r.r - 1) / nullif(p.n_net, 0) < 7;

-- A site group takes k active members, then a requested and an invited one, from a window of
-- consecutive members of its site's pool starting at a random offset: distinct within the group, and
-- overlapping windows put some members in several groups and leave others in none.
CREATE TEMP TABLE sc_gm ON COMMIT DROP AS
SELECT gr.g, i AS slot, m.n, m.id AS mid,
       CASE WHEN i < gr.k THEN 'active' WHEN i = gr.k AND gr.req THEN 'requested' ELSE 'invited' END
         AS state,
       CASE WHEN i = 0 THEN 'convener' WHEN i = 1 AND gr.rep THEN 'representative'
            WHEN i < gr.k AND m.role = 'facilitator' THEN 'facilitator' ELSE 'member' END AS role,
       NULL::int AS rep_of
FROM sc_group gr JOIN sc_site si ON si.s = gr.s CROSS JOIN sc_p p
CROSS JOIN LATERAL generate_series(0, gr.k - 1 + gr.req::int + gr.inv::int) i
JOIN sc_member m
  ON m.n = p.n_admins + 2 * p.n_sites + si.pool_lo + 1 + (gr.o + i) % (si.pool_hi - si.pool_lo);

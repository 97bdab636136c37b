-- The status rule of groups_db_recompute: 'active' needs min_members (4) active members who all
-- accepted the current terms; dormant and closed stay as planned.
CREATE TEMP TABLE sc_gfin ON COMMIT DROP AS
SELECT gr.*, md5('forumnet:' || p.seed || ':group:' || gr.g)::uuid AS id, c.active, c.total,
       conv.mid AS conv_id,
       CASE WHEN gr.plan IN ('dormant', 'closed') THEN gr.plan
            WHEN gr.plan = 'active' AND c.active >= 4 THEN 'active' ELSE 'forming' END AS status
FROM sc_group gr CROSS JOIN sc_p p
JOIN (SELECT g, (count(*) FILTER (WHERE state = 'active'))::int AS active, count(*)::int AS total
      FROM sc_gm GROUP BY g) c ON c.g = gr.g
JOIN sc_gm conv ON conv.g = gr.g AND conv.slot = 0;

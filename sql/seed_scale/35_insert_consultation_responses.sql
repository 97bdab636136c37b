-- Targeted groups are the target site's groups that are not closed (consultation_targeted_groups):
-- 60% of them submitted an answer to every question; 10% more of an open consultation's have a draft.
INSERT INTO consultation_responses (consultation_id, group_id, answers, status, submitted_at, version,
                                    created_at, updated_at)
SELECT k.id, gf.id,
       (SELECT jsonb_agg(jsonb_build_object('question_id', 'q' || q, 'text',
                 (ARRAY['We discussed this at our last meeting and broadly agree.',
                        'Views in the group were mixed; most of us want more time for this.',
                        'This matters a lot to us: please keep the forums involved.',
                        'We would like clearer guidance before anything changes.',
                        'We have some examples we are happy to share.'])[1 + (gf.g + q) % 5]) ORDER BY q)
        FROM generate_series(1, k.nq) q),
       CASE WHEN r.x < 0.6 THEN 'submitted' ELSE 'draft' END,
       CASE WHEN r.x < 0.6 THEN t.at END,
       CASE WHEN r.x < 0.6 THEN 2 ELSE 1 END,
       CASE WHEN r.x < 0.6 THEN greatest(k.opens, t.at - interval '3 days') ELSE t.at END,
       t.at
FROM sc_cons k JOIN sc_gfin gf ON gf.s = k.s AND gf.status <> 'closed' CROSS JOIN sc_p p
CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 80, k.c::bigint * 100003 + gf.g) AS x) r
CROSS JOIN LATERAL (SELECT k.opens + (0.1 + 0.8 * pg_temp.u(p.seed, 81, k.c::bigint * 100003 + gf.g))
                                     * (least(k.closes, p.t0) - k.opens) AS at) t
WHERE k.status <> 'draft' AND (r.x < 0.6 OR (k.status = 'open' AND r.x < 0.7))
ORDER BY k.c, gf.g;

-- Consultations are owned by a manager of one site and target it: 10% draft (opening later), 15% open
-- (closing later), 35% closed, 40% with a published outcome, running 4 to 8 weeks over three years.
CREATE TEMP TABLE sc_cons ON COMMIT DROP AS
SELECT k.c, md5('forumnet:' || p.seed || ':consultation:' || k.c)::uuid AS id, k.s, own.id AS owner_id,
       k.status, k.nq, k.topic, t.opens, t.opens + k.dur AS closes,
       CASE WHEN k.status = 'draft' THEN p.t0 - 30 * pg_temp.u(p.seed, 66, k.c) * interval '1 day'
            ELSE t.opens - (7 + 14 * pg_temp.u(p.seed, 66, k.c)) * interval '1 day' END AS created
FROM (SELECT c, 1 + floor(p.n_sites * pg_temp.u(p.seed, 60, c))::int AS s,
             CASE WHEN r.x < 0.10 THEN 'draft' WHEN r.x < 0.25 THEN 'open' WHEN r.x < 0.60 THEN 'closed'
                  ELSE 'outcome_published' END AS status,
             (28 + floor(29 * pg_temp.u(p.seed, 62, c))) * interval '1 day' AS dur,
             pg_temp.u(p.seed, 63, c) AS y, 2 + floor(4 * pg_temp.u(p.seed, 64, c))::int AS nq,
             pg_temp.u(p.seed, 65, c) < 0.5 AS second, 1 + floor(10 * pg_temp.u(p.seed, 67, c))::int AS topic
      FROM sc_p p, generate_series(1, p.n_consultations) c,
           LATERAL (SELECT pg_temp.u(p.seed, 61, c) AS x) r) k
CROSS JOIN sc_p p
JOIN sc_member m2 ON m2.n = p.n_admins + 2 * k.s
JOIN sc_member own
  ON own.n = p.n_admins + 2 * k.s - CASE WHEN m2.role = 'manager' AND k.second THEN 0 ELSE 1 END
CROSS JOIN LATERAL (SELECT CASE k.status WHEN 'draft' THEN p.t0 + (7 + 53 * k.y) * interval '1 day'
                                         WHEN 'open' THEN p.t0 - k.y * (k.dur - interval '2 days')
                                         ELSE p.t0 - (2 + 1030 * k.y) * interval '1 day' - k.dur END
                           AS opens) t;

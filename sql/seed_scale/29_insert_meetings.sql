-- 0-3 themes from 30 tags, the first tags far more common (so "most shared themes" means something).
INSERT INTO meetings (id, group_id, starts_at, ends_at, location, online, agenda, themes, created_by,
                      version, created_at, present_count, attendance_count)
SELECT m.id, gf.id, m.starts_at, m.ends_at,
       CASE WHEN NOT o.online THEN (ARRAY['Family Centre, room 2', 'Civic Centre', 'Team base',
                                          'Library meeting room', 'Health centre'])
                                     [1 + floor(5 * pg_temp.u(p.seed, 35, m.mi))::int] END,
       o.online,
       CASE WHEN pg_temp.u(p.seed, 36, m.mi) < 0.8
            THEN (ARRAY['Case discussion', 'Reflective practice session', 'Peer supervision',
                        'Themes from the month', 'Planning and review'])
                   [1 + floor(5 * pg_temp.u(p.seed, 37, m.mi))::int] END,
       CASE WHEN th.n = 0 THEN '{}'::text[]
            ELSE ARRAY[v.tags[1 + th.t1]]
                 || CASE WHEN th.n >= 2 AND th.t2 <> th.t1 THEN ARRAY[v.tags[1 + th.t2]]
                         ELSE '{}'::text[] END
                 || CASE WHEN th.n >= 3 AND th.t3 <> th.t1 AND th.t3 <> th.t2 THEN ARRAY[v.tags[1 + th.t3]]
                         ELSE '{}'::text[] END END,
       m.conv_id, CASE WHEN m.recorded THEN 2 ELSE 1 END,
       greatest(m.created, least(m.starts_at - interval '14 days', p.t0 - interval '1 hour')),
       coalesce(c.present, 0), coalesce(c.recorded, 0)
FROM sc_meeting m JOIN sc_gfin gf ON gf.g = m.g CROSS JOIN sc_p p
CROSS JOIN (SELECT ARRAY['safeguarding', 'domestic-abuse', 'mental-health', 'substance-misuse', 'housing',
                         'poverty', 'care-proceedings', 'contraception', 'trauma-informed-practice',
                         'reflective-practice', 'supervision', 'burnout', 'wellbeing', 'multi-agency-working',
                         'child-protection', 'perinatal-care', 'neglect', 'parenting', 'relationships',
                         'youth-justice', 'education', 'employment', 'benefits', 'immigration',
                         'disability', 'neurodiversity', 'bereavement', 'court-skills', 'caseload-pressure',
                         'recording-practice'] AS tags) v
CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 38, m.mi) < 0.35 AS online) o
CROSS JOIN LATERAL (SELECT floor(4 * pg_temp.u(p.seed, 39, m.mi))::int AS n,
                           floor(30 * power(pg_temp.u(p.seed, 40, m.mi), 1.6))::int AS t1,
                           floor(30 * power(pg_temp.u(p.seed, 41, m.mi), 1.6))::int AS t2,
                           floor(30 * power(pg_temp.u(p.seed, 42, m.mi), 1.6))::int AS t3) th
LEFT JOIN (SELECT mi, (count(*) FILTER (WHERE status = 'present'))::int AS present, count(*)::int AS recorded
           FROM sc_attendance GROUP BY mi) c ON c.mi = m.mi;

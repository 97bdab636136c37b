INSERT INTO groups (id, site_id, name, purpose, composition, focus, min_members, max_members, status,
                    member_count, terms_version, created_by, closed_at, version, created_at)
SELECT gf.id, si.id,
       CASE WHEN gf.s IS NULL THEN 'Network forum ' || gf.g
            ELSE (ARRAY['Reflective practice', 'Case discussion', 'New practitioners', 'Peer supervision',
                        'Practice development', 'Learning circle'])
                   [1 + floor(6 * pg_temp.u(p.seed, 23, gf.g))::int] || ' group ' || gf.g END,
       CASE WHEN pg_temp.u(p.seed, 24, gf.g) < 0.7
            THEN 'A space for practitioners to think about their work together.' END,
       CASE WHEN pg_temp.u(p.seed, 25, gf.g) < 0.8 THEN 'multi_disciplinary' ELSE 'single_discipline' END,
       (ARRAY['organisation', 'locality', 'specialism', 'other'])
         [1 + floor(4 * pg_temp.u(p.seed, 26, gf.g))::int],
       4, 8, gf.status, gf.active, gf.terms, gf.conv_id, CASE WHEN gf.plan = 'closed' THEN gf.ended END,
       1 + gf.total + gf.terms, gf.created
FROM sc_gfin gf CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = gf.s
ORDER BY gf.g;

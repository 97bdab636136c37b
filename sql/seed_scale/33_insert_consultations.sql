INSERT INTO consultations (id, title, summary, questions, status, opens_at, closes_at, created_by, outcome,
                           version, created_at)
SELECT k.id, t.topic || ' (consultation ' || k.c || ')',
       'We would like each forum''s view on ' || lower(t.topic) || ', to shape what we do next.',
       (SELECT jsonb_agg(jsonb_build_object('id', 'q' || q, 'text',
                 (ARRAY['What is working well?', 'What gets in the way?', 'What should we change first?',
                        'What support would make the most difference?', 'Who else should we talk to?',
                        'Anything else you want us to know?'])[1 + (k.c + q) % 6]) ORDER BY q)
        FROM generate_series(1, k.nq) q),
       k.status, k.opens, k.closes, k.owner_id,
       CASE WHEN k.status = 'outcome_published' THEN jsonb_build_object(
         'summary', 'What we heard from the forums, and what we will do about it.',
         'actions', (SELECT jsonb_agg(jsonb_build_object(
                       'text', (ARRAY['Review the guidance', 'Fund protected time', 'Pilot a new approach',
                                      'Report back to the forums'])[a],
                       'status', (ARRAY['planned', 'in_progress', 'done', 'not_doing'])
                                   [1 + floor(4 * pg_temp.u(p.seed, 70, k.c::bigint * 8 + a))::int])
                       ORDER BY a)
                     FROM generate_series(1, 1 + floor(4 * pg_temp.u(p.seed, 71, k.c))::int) a),
         'published_at', rfc3339(least(k.closes + (7 + 33 * pg_temp.u(p.seed, 72, k.c)) * interval '1 day',
                                       p.t0 - interval '1 hour'))) END,
       CASE k.status WHEN 'draft' THEN 1 WHEN 'open' THEN 2 WHEN 'closed' THEN 3 ELSE 4 END,
       k.created
FROM sc_cons k CROSS JOIN sc_p p
CROSS JOIN LATERAL (SELECT (ARRAY['Supervision arrangements', 'Caseload weighting', 'Training priorities',
                                  'Hybrid working', 'Recording requirements', 'Wellbeing support',
                                  'Multi-agency meetings', 'Induction for new staff', 'Practice guidance',
                                  'Service redesign'])[k.topic] AS topic) t
ORDER BY k.c;

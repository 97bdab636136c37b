INSERT INTO group_terms (group_id, version, body, review_on, created_by, created_at)
SELECT gf.id, 1,
       'We meet regularly, keep what is shared confidential, and take turns to bring work for discussion.',
       (gf.created + interval '1 year')::date, gf.conv_id, gf.created + interval '1 day'
FROM sc_gfin gf WHERE gf.terms = 1 ORDER BY gf.g;

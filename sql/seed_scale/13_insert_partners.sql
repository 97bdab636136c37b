INSERT INTO partners (id, name, client_id, secret_digest, trusted, created_at)
SELECT pa.id,
       (ARRAY['Learning Hub', 'Practice Academy', 'Training Partnership', 'Research Centre',
              'Safeguarding Board'])[1 + (pa.k - 1) % 5] || ' ' || pa.k,
       'fnp_scale_s' || p.seed || '_' || pa.k,
       encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'),
       pa.trusted, p.t0 - interval '1235 days' + pa.k * interval '1 hour'
FROM sc_partner pa CROSS JOIN sc_p p ORDER BY pa.k;

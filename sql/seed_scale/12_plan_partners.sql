CREATE TEMP TABLE sc_partner ON COMMIT DROP AS
SELECT k, md5('forumnet:' || p.seed || ':partner:' || k)::uuid AS id,
       pg_temp.u(p.seed, 9, k) < 0.6 AS trusted
FROM sc_p p, generate_series(1, p.n_partners) k;

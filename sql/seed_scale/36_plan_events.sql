-- Events: 75% by a manager for their site, 5% network-wide by an admin, 20% by partners (a fifth of
-- those network-wide, the rest for 1-3 sites), so every site also sees the ~9% network-wide events.
-- Pending only for an untrusted partner's future events (a manager or admin approves them); 5%
-- cancelled. Three years back to one year ahead; capacity 20..200, or none for a quarter of them.
CREATE TEMP TABLE sc_event ON COMMIT DROP AS
WITH b AS (
  SELECT e, CASE WHEN r.x < 0.20 THEN 'partner' WHEN r.x < 0.95 THEN 'manager' ELSE 'admin' END
              AS owner_kind,
         1 + floor(p.n_sites * pg_temp.u(p.seed, 91, e))::int AS s1,
         CASE WHEN r.y < 0.25 THEN 'learning_forum' WHEN r.y < 0.45 THEN 'seminar'
              WHEN r.y < 0.70 THEN 'workshop' WHEN r.y < 0.85 THEN 'training'
              WHEN r.y < 0.95 THEN 'network_meeting' ELSE 'other' END AS kind,
         date_trunc('day', p.t0 - interval '1095 days' + 1460 * pg_temp.u(p.seed, 93, e) * interval '1 day',
                    'UTC')
           + (9 + floor(9 * pg_temp.u(p.seed, 94, e))) * interval '1 hour' AS starts_at,
         pg_temp.u(p.seed, 95, e) AS dx,
         CASE WHEN pg_temp.u(p.seed, 96, e) >= 0.25
              THEN 20 + floor(181 * pg_temp.u(p.seed, 97, e))::int END AS capacity,
         1 + floor(p.n_partners * pg_temp.u(p.seed, 98, e))::int AS pk
  FROM sc_p p, generate_series(1, p.n_events) e,
       LATERAL (SELECT pg_temp.u(p.seed, 90, e) AS x, pg_temp.u(p.seed, 92, e) AS y) r)
SELECT b.e, md5('forumnet:' || p.seed || ':event:' || b.e)::uuid AS id, b.kind, b.starts_at,
       b.starts_at + CASE WHEN b.kind = 'training' AND b.dx < 0.4 THEN interval '1 day 7 hours'
                          ELSE (1 + floor(6 * b.dx)) * interval '1 hour' END AS ends_at,
       b.owner_kind = 'admin' OR (b.owner_kind = 'partner' AND pg_temp.u(p.seed, 99, b.e) < 0.2)
         AS network_wide,
       b.s1,
       CASE WHEN b.owner_kind = 'partner'
            THEN least(1 + floor(3 * pg_temp.u(p.seed, 100, b.e))::int, p.n_sites) ELSE 1 END AS nsites,
       b.capacity,
       CASE WHEN pg_temp.u(p.seed, 102, b.e) < 0.05 THEN 'cancelled'
            WHEN b.owner_kind = 'partner' AND NOT pa.trusted AND b.starts_at > p.t0
                 AND pg_temp.u(p.seed, 103, b.e) < 0.5 THEN 'pending'
            ELSE 'published' END AS status,
       own.id AS created_by, CASE WHEN b.owner_kind = 'partner' THEN pa.id END AS partner_id,
       CASE WHEN b.owner_kind = 'partner' AND pg_temp.u(p.seed, 105, b.e) < 0.8 THEN 'ext-' || b.e END
         AS external_id,
       greatest(p.t0 - interval '1200 days',
                least(b.starts_at - (7 + 83 * pg_temp.u(p.seed, 104, b.e)) * interval '1 day',
                      p.t0 - interval '1 hour')) AS created,
       pg_temp.u(p.seed, 106, b.e) < 0.4 AS online
FROM b CROSS JOIN sc_p p
JOIN sc_member m2 ON m2.n = p.n_admins + 2 * b.s1
JOIN sc_partner pa ON pa.k = b.pk
LEFT JOIN sc_member own
  ON own.n = CASE b.owner_kind
               WHEN 'manager' THEN p.n_admins + 2 * b.s1 - CASE WHEN m2.role = 'manager'
                                     AND pg_temp.u(p.seed, 101, b.e) < 0.5 THEN 0 ELSE 1 END
               WHEN 'admin' THEN 1 + floor(p.n_admins * pg_temp.u(p.seed, 101, b.e))::int END;

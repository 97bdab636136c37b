-- An event's r registrants are consecutive members (from a random offset) of its first site's pool, or
-- of all non-admin members for a network-wide event, so each can see it. The first w asked to go, in
-- order: 'going' up to capacity, then 'waitlisted' (so a waitlist exists only when full, and is behind
-- everyone going); the rest are interested or declined. r is 30%..130% of capacity (5..60 without one).
INSERT INTO event_registrations (event_id, member_id, status, requested_going_at, version, created_at,
                                 updated_at)
SELECT ev.id, m.id,
       CASE WHEN i < q.w AND (ev.capacity IS NULL OR i < ev.capacity) THEN 'going'
            WHEN i < q.w THEN 'waitlisted'
            WHEN pg_temp.u(p.seed, 113, ev.e::bigint * 512 + i) < 0.67 THEN 'interested'
            ELSE 'declined' END,
       CASE WHEN i < q.w THEN t.at END, 1, t.at, t.at
FROM sc_event ev CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = ev.s1
CROSS JOIN LATERAL (SELECT CASE WHEN ev.network_wide THEN p.n_members - p.n_admins
                                ELSE si.pool_hi - si.pool_lo END AS pop) o
CROSS JOIN LATERAL (SELECT least(o.pop, CASE WHEN ev.capacity IS NULL
                                             THEN 5 + floor(56 * pg_temp.u(p.seed, 110, ev.e))
                                             ELSE round(ev.capacity * (0.3 + pg_temp.u(p.seed, 110, ev.e)))
                                             END)::int AS r) rr
CROSS JOIN LATERAL (SELECT rr.r, round(rr.r * (0.6 + 0.3 * pg_temp.u(p.seed, 111, ev.e)))::int AS w,
                           floor(o.pop * pg_temp.u(p.seed, 112, ev.e))::int AS off) q
CROSS JOIN LATERAL generate_series(0, q.r - 1) i
CROSS JOIN LATERAL (SELECT ev.created + (i + 1)::float8 / (q.r + 1) * (least(ev.starts_at, p.t0) - ev.created)
                           AS at) t
JOIN sc_member m ON m.n = CASE WHEN ev.network_wide THEN p.n_admins + 1 + (q.off + i) % o.pop
                               ELSE p.n_admins + 2 * p.n_sites + si.pool_lo + 1 + (q.off + i) % o.pop END
WHERE ev.status <> 'pending';

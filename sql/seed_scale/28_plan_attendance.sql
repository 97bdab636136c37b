-- One draw per (meeting, active member slot) decides attendance: present below 0.75, apologies below
-- 0.90, else absent. The meeting's counts (sql/005) and its attendance rows both read this view, so
-- they agree by construction. A view is inlined where it is used; it goes with the tables it reads
-- when they are dropped at commit.
CREATE TEMP VIEW sc_attendance AS
SELECT m.mi, m.id AS meeting_id, a.mid,
       CASE WHEN x.v < 0.75 THEN 'present' WHEN x.v < 0.90 THEN 'apologies' ELSE 'absent' END AS status,
       least(m.ends_at + interval '1 day', p.t0) AS recorded_at
FROM sc_meeting m JOIN sc_ms a ON a.g = m.g AND a.state = 'active' CROSS JOIN sc_p p
CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 50, m.mi::bigint * 8 + a.slot) AS v) x
WHERE m.recorded;

INSERT INTO site_managers (site_id, member_id, created_at)
SELECT si.id, m.id, p.t0 - interval '1200 days'
FROM sc_member m JOIN sc_site si ON si.s = m.s CROSS JOIN sc_p p
WHERE m.role = 'manager' ORDER BY m.n;

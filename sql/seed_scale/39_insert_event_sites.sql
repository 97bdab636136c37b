INSERT INTO event_sites (event_id, site_id)
SELECT ev.id, si.id
FROM sc_event ev CROSS JOIN sc_p p CROSS JOIN LATERAL generate_series(0, ev.nsites - 1) j
JOIN sc_site si ON si.s = 1 + (ev.s1 - 1 + j) % p.n_sites
WHERE NOT ev.network_wide
ORDER BY ev.e, j;

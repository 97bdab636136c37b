INSERT INTO consultation_target_sites (consultation_id, site_id)
SELECT k.id, si.id FROM sc_cons k JOIN sc_site si ON si.s = k.s ORDER BY k.c;

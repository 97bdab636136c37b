INSERT INTO terms_acceptances (group_id, version, member_id, accepted_at)
SELECT ms.gid, 1, ms.mid, greatest(ms.joined, gf.created + interval '1 day') + interval '2 hours'
FROM sc_ms ms JOIN sc_gfin gf ON gf.g = ms.g WHERE ms.acc = 1 ORDER BY ms.g, ms.slot;

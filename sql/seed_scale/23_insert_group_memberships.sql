INSERT INTO group_memberships (group_id, member_id, state, role, represents_group_id, invited_by,
                               created_at, joined_at, accepted_terms_version, version)
SELECT ms.gid, ms.mid, ms.state, ms.role, rg.id, CASE WHEN ms.state = 'invited' THEN gf.conv_id END,
       CASE WHEN ms.state <> 'active' THEN ms.asked WHEN ms.slot = 0 THEN ms.joined
            ELSE ms.joined - interval '1 day' END,
       ms.joined, ms.acc, 1 + (ms.state = 'active')::int + ms.acc
FROM sc_ms ms JOIN sc_gfin gf ON gf.g = ms.g LEFT JOIN sc_gfin rg ON rg.g = ms.rep_of
ORDER BY ms.g, ms.slot;

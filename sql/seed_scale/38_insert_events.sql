INSERT INTO events (id, kind, title, description, starts_at, ends_at, location, online_url, network_wide,
                    capacity, status, created_by, partner_id, external_id, version, created_at)
SELECT ev.id, ev.kind,
       initcap(replace(ev.kind, '_', ' ')) || ': ' ||
         (ARRAY['working with families under pressure', 'reflective supervision', 'trauma-informed practice',
                'recording that helps', 'multi-agency working', 'looking after yourself', 'court skills',
                'perinatal mental health'])[1 + floor(8 * pg_temp.u(p.seed, 107, ev.e))::int],
       CASE WHEN pg_temp.u(p.seed, 108, ev.e) < 0.5
            THEN 'An event for practitioners across the network.' END,
       ev.starts_at, ev.ends_at,
       CASE WHEN NOT ev.online THEN (ARRAY['Town Hall', 'Conference centre', 'Family Centre',
                                           'University campus', 'Community hall'])
                                      [1 + floor(5 * pg_temp.u(p.seed, 109, ev.e))::int] END,
       CASE WHEN ev.online THEN 'https://events.scale.forumnet.test/e/' || ev.e END,
       ev.network_wide, ev.capacity, ev.status, ev.created_by, ev.partner_id, ev.external_id,
       CASE WHEN ev.status = 'cancelled' THEN 2 ELSE 1 END, ev.created
FROM sc_event ev CROSS JOIN sc_p p
ORDER BY ev.e;

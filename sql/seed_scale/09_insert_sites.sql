INSERT INTO sites (id, slug, name, organisation, region, created_at)
SELECT si.id, 'scale-s' || p.seed || '-' || si.s,
       'Pause ' || t.town || CASE WHEN si.s > 40 THEN ' ' || ((si.s - 1) / 40 + 1) ELSE '' END,
       t.town || ' Council',
       (ARRAY['North East', 'North West', 'Yorkshire and the Humber', 'East Midlands', 'West Midlands',
              'East of England', 'London', 'South East', 'South West'])
         [1 + floor(9 * pg_temp.u(p.seed, 4, si.s))::int],
       p.t0 - interval '1240 days' + si.s * interval '1 minute'
FROM sc_site si CROSS JOIN sc_p p
CROSS JOIN LATERAL (SELECT (ARRAY['Barnsley', 'Bolton', 'Bradford', 'Brighton', 'Bristol', 'Cambridge',
       'Carlisle', 'Chester', 'Coventry', 'Derby', 'Doncaster', 'Dudley', 'Durham', 'Exeter', 'Gateshead',
       'Gloucester', 'Halifax', 'Hull', 'Ipswich', 'Kendal', 'Lancaster', 'Leeds', 'Leicester', 'Lincoln',
       'Liverpool', 'Luton', 'Manchester', 'Newcastle', 'Northampton', 'Norwich', 'Nottingham', 'Oldham',
       'Oxford', 'Plymouth', 'Preston', 'Reading', 'Sheffield', 'Southampton', 'Stockport', 'Sunderland'])
       [1 + (si.s - 1) % 40] AS town) t
ORDER BY si.s;

-- One Argon2id hash for everybody ($2 of sc_p): hashing 30 000 passwords would take an hour.
INSERT INTO members (id, email, display_name, role, discipline, home_site_id, password_hash,
                     must_change_password, created_at, updated_at)
SELECT m.id, 'm' || m.n || '.s' || p.seed || '@scale.forumnet.test',
       (ARRAY['Aisha', 'Alex', 'Amara', 'Ben', 'Callum', 'Chloe', 'Daniel', 'Deepa', 'Ella', 'Emeka',
              'Fatima', 'Grace', 'Hannah', 'Harry', 'Imran', 'Isla', 'Jack', 'Jasmine', 'Kofi', 'Laura',
              'Leah', 'Liam', 'Maya', 'Mohammed', 'Nadia', 'Niamh', 'Noah', 'Olivia', 'Omar', 'Priya',
              'Rachel', 'Rhys', 'Rosa', 'Sam', 'Sara', 'Sophie', 'Tom', 'Yusuf', 'Zainab', 'Zoe'])
         [1 + floor(40 * pg_temp.u(p.seed, 6, m.n))::int] || ' ' ||
       (ARRAY['Ahmed', 'Anderson', 'Begum', 'Brown', 'Campbell', 'Clarke', 'Davies', 'Edwards', 'Evans',
              'Green', 'Hall', 'Harris', 'Hughes', 'Hussain', 'Jackson', 'Jones', 'Khan', 'Kowalski',
              'Lewis', 'Martin', 'Mensah', 'Morgan', 'Murphy', 'Nowak', 'Obi', 'Okafor', 'Patel', 'Roberts',
              'Robinson', 'Shah', 'Singh', 'Smith', 'Taylor', 'Thomas', 'Thompson', 'Walker', 'White',
              'Williams', 'Wilson', 'Wright'])[1 + floor(40 * pg_temp.u(p.seed, 7, m.n))::int],
       m.role,
       CASE WHEN m.role <> 'admin' THEN
         (ARRAY['Social work', 'Midwifery', 'Family therapy', 'Health visiting', 'Psychology', 'Nursing',
                'Education', 'Probation', 'Youth work', 'Housing'])
           [1 + floor(10 * pg_temp.u(p.seed, 8, m.n))::int] END,
       si.id, p.pwhash, false, t.ts, t.ts
FROM sc_member m CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = m.s
CROSS JOIN LATERAL (SELECT p.t0 - interval '1230 days' + (m.n::float8 / p.n_members) * interval '30 days'
                           AS ts) t
ORDER BY m.n;

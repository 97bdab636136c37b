/* forumnet seed --scale N [--seed S]: a generated national network for benchmarks (issue 6).
 *
 * At N = 1: 200 sites, 30 000 members, 5 000 groups with ~30 000 memberships, 250 000 meetings
 * (~1.35M attendance rows), 1 000 consultations, 20 000 events (~1.3M registrations), spread over
 * the last three years (events also one year ahead). Every count scales with N.
 *
 * How: set-based SQL only, one INSERT ... SELECT per table, in one transaction, so a failure leaves
 * nothing behind. Temporary tables (ON COMMIT DROP) hold the plan of the network by integer index
 * (site s, member n, group g, meeting mi, consultation c, event e); each real table is filled from them:
 *   sc_p        the parameters: seed, counts derived from N, the shared password hash, t0 (see below)
 *   sc_site     sites, each with a contiguous range of "pool" members (the site's practitioners and
 *               facilitators, pool_lo+1 .. pool_hi) and of groups (g_lo+1 .. g_hi), sized by a weight
 *   sc_member   members: admins 1..A, two manager slots per site, then each site's pool
 *   sc_group    groups as planned (status, size, terms, window offset into the site's pool)
 *   sc_gm       their memberships by slot: slot 0 convener, then active members, then requested/invited
 *   sc_gfin     groups with their final counts and status; sc_ms memberships with terms accepted
 *   sc_meeting, sc_cons, sc_event, sc_partner   the rest, by index
 *
 * Deterministic: each random choice is pg_temp.u(seed, purpose, key), a hash of the seed, what the
 * draw is for and the row's index, and each id is md5('forumnet:<seed>:<kind>:<index>')::uuid. Unlike
 * setseed() + random(), that does not depend on the order in which a plan visits rows, nor on what
 * else the database holds (several seeds can live side by side). Two runs with the same seed produce
 * the same rows except for: timestamps, which are relative to t0, midnight UTC of the day of the run
 * (so runs on different days differ by whole days); the shared password and so its Argon2id hash, new
 * on every run; partners' secret_digest, random so that nobody holds a partner secret; audit_log.
 * Parallel query is off for the transaction as a precaution, and JIT too: before they are analyzed the
 * working tables look expensive, and JIT spent more time compiling these one-off statements than it saved.
 *
 * The rules the data keeps, as the API keeps them (the schema enforces only part of this):
 * member_count equals the active memberships and never exceeds max_members; a group is 'active'
 * exactly when it has min_members active members who all accepted its current terms (forming groups
 * never satisfy that; dormant and closed are manual); members join groups of their home site;
 * representatives in network-wide groups are active representatives of an open site group;
 * meetings.present_count/attendance_count equal their attendance rows, recorded only for meetings
 * that have ended, for the group's active members; events never have more 'going' than capacity, and
 * a waitlist only when full; registrations only on events their member can see, never on pending ones. */
#include "forumnet/seed_scale.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forumnet/audit_db.h"
#include "forumnet/cli.h"
#include "forumnet/migrate.h"
#include "forumnet/password.h"

/* Each step must finish within the CLI's statement_timeout (600 s). Time grows linearly (N = 3 took
 * 2 minutes on a 2-core machine, 55 s of it the registrations), so at N = 10 the largest step takes
 * about three minutes. */
#define SCALE_MAX 10.0
#define SEED_MAX 2147483647LL

/* Temporary tables must be sized before the session first touches one. */
static const db_stmt session_temp_buffers = {"seed_scale_temp_buffers",
                                             "SELECT set_config('temp_buffers', '256MB', false)"};

static const db_stmt exists_for_seed = {
    "seed_scale_exists",
    "SELECT EXISTS (SELECT 1 FROM sites WHERE id = md5('forumnet:' || $1::bigint || ':site:1')::uuid)"};

static const db_stmt transaction_settings = {"seed_scale_settings",
                                             "SELECT set_config('max_parallel_workers_per_gather', '0', true),"
                                             " set_config('jit', 'off', true), set_config('work_mem', '256MB', true)"};

/* A uniform draw in [0, 1) from (seed, purpose, key); SQL, so PostgreSQL inlines it. */
static const db_stmt create_draw_function = {
    "seed_scale_draw_function", "CREATE FUNCTION pg_temp.u(seed bigint, purpose int, k bigint) RETURNS float8"
                                " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
                                " AS $$ SELECT (hashint8extended(k, seed * 1000 + purpose) & 9007199254740991)::float8"
                                "       / 9007199254740992.0 $$"};

/* $1 seed, $2 the shared password hash, $3 N. At least 12 pool members per site, so that a group
 * (8 active + 2 asking) always finds distinct members at its site. */
static const db_stmt plan_parameters = {
    "seed_scale_parameters",
    "CREATE TEMP TABLE sc_p ON COMMIT DROP AS"
    " SELECT seed, pwhash, t0, n_sites, n_admins, n_members, n_members - n_admins - 2 * n_sites AS n_pool,"
    "        n_groups, n_net, n_groups - n_net AS n_site_groups, n_meetings, n_consultations, n_events, n_partners"
    " FROM (SELECT *, greatest(round(30000 * scale)::int, n_admins + 14 * n_sites) AS n_members,"
    "              CASE WHEN n_groups >= 2 THEN greatest(1, round(0.02 * n_groups)::int) ELSE 0 END AS n_net"
    "       FROM (SELECT $1::bigint AS seed, $2::text AS pwhash, date_trunc('day', now(), 'UTC') AS t0,"
    "                    $3::float8 AS scale,"
    "                    greatest(1, round(200 * $3::float8))::int AS n_sites,"
    "                    greatest(1, round(20 * $3::float8))::int AS n_admins,"
    "                    greatest(1, round(5000 * $3::float8))::int AS n_groups,"
    "                    greatest(1, round(250000 * $3::float8))::int AS n_meetings,"
    "                    greatest(1, round(1000 * $3::float8))::int AS n_consultations,"
    "                    greatest(1, round(20000 * $3::float8))::int AS n_events,"
    "                    greatest(1, round(20 * $3::float8))::int AS n_partners) a) b"};

static const db_stmt analyze_parameters = {"seed_scale_analyze_p", "ANALYZE sc_p"};

/* Sites differ in size (weight 0.4 .. 1.6); ranges come from exact numeric running sums, so they
 * tile the members and groups without gaps or overlaps. */
static const db_stmt plan_sites = {
    "seed_scale_plan_sites",
    "CREATE TEMP TABLE sc_site ON COMMIT DROP AS"
    " SELECT s, md5('forumnet:' || p.seed || ':site:' || s)::uuid AS id,"
    "        12 * (s - 1) + round(cw_before / tw * (p.n_pool - 12 * p.n_sites))::int AS pool_lo,"
    "        12 * s + round(cw / tw * (p.n_pool - 12 * p.n_sites))::int AS pool_hi,"
    "        round(cw_before / tw * p.n_site_groups)::int AS g_lo,"
    "        round(cw / tw * p.n_site_groups)::int AS g_hi"
    " FROM sc_p p,"
    "      (SELECT s, sum(w) OVER (ORDER BY s) AS cw, sum(w) OVER () AS tw,"
    "              coalesce(sum(w) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)"
    "                AS cw_before"
    "       FROM (SELECT s, round((0.4 + 1.2 * pg_temp.u(p.seed, 1, s))::numeric, 6) AS w"
    "             FROM sc_p p, generate_series(1, p.n_sites) s) x) y"};

static const db_stmt analyze_sites = {"seed_scale_analyze_site", "ANALYZE sc_site"};

/* Admins 1..A (~0.07%), two manager slots per site (the second a manager half the time: ~1% admins
 * and managers in all), then each site's pool, ~8% facilitators. */
static const db_stmt plan_members = {
    "seed_scale_plan_members",
    "CREATE TEMP TABLE sc_member ON COMMIT DROP AS"
    " SELECT x.n, md5('forumnet:' || p.seed || ':member:' || x.n)::uuid AS id, x.s,"
    "        CASE WHEN x.kind <> 'pool' THEN x.kind"
    "             WHEN pg_temp.u(p.seed, 3, x.n) < 0.08 THEN 'facilitator' ELSE 'practitioner' END AS role"
    " FROM sc_p p,"
    "      LATERAL (SELECT n, NULL::int AS s, 'admin' AS kind FROM generate_series(1, p.n_admins) n"
    "               UNION ALL"
    "               SELECT p.n_admins + 2 * s - 1, s, 'manager' FROM generate_series(1, p.n_sites) s"
    "               UNION ALL"
    "               SELECT p.n_admins + 2 * s, s,"
    "                      CASE WHEN pg_temp.u(p.seed, 2, s) < 0.5 THEN 'manager' ELSE 'practitioner' END"
    "               FROM generate_series(1, p.n_sites) s"
    "               UNION ALL"
    "               SELECT p.n_admins + 2 * p.n_sites + si.pool_lo + k, si.s, 'pool'"
    "               FROM sc_site si, generate_series(1, si.pool_hi - si.pool_lo) k) x"};

static const db_stmt analyze_members = {"seed_scale_analyze_member", "ANALYZE sc_member"};

static const db_stmt insert_sites = {
    "seed_scale_sites",
    "INSERT INTO sites (id, slug, name, organisation, region, created_at)"
    " SELECT si.id, 'scale-s' || p.seed || '-' || si.s,"
    "        'Pause ' || t.town || CASE WHEN si.s > 40 THEN ' ' || ((si.s - 1) / 40 + 1) ELSE '' END,"
    "        t.town || ' Council',"
    "        (ARRAY['North East', 'North West', 'Yorkshire and the Humber', 'East Midlands', 'West Midlands',"
    "               'East of England', 'London', 'South East', 'South West'])"
    "          [1 + floor(9 * pg_temp.u(p.seed, 4, si.s))::int],"
    "        p.t0 - interval '1240 days' + si.s * interval '1 minute'"
    " FROM sc_site si CROSS JOIN sc_p p"
    " CROSS JOIN LATERAL (SELECT (ARRAY['Barnsley', 'Bolton', 'Bradford', 'Brighton', 'Bristol', 'Cambridge',"
    "        'Carlisle', 'Chester', 'Coventry', 'Derby', 'Doncaster', 'Dudley', 'Durham', 'Exeter', 'Gateshead',"
    "        'Gloucester', 'Halifax', 'Hull', 'Ipswich', 'Kendal', 'Lancaster', 'Leeds', 'Leicester', 'Lincoln',"
    "        'Liverpool', 'Luton', 'Manchester', 'Newcastle', 'Northampton', 'Norwich', 'Nottingham', 'Oldham',"
    "        'Oxford', 'Plymouth', 'Preston', 'Reading', 'Sheffield', 'Southampton', 'Stockport', 'Sunderland'])"
    "        [1 + (si.s - 1) % 40] AS town) t"
    " ORDER BY si.s"};

/* One Argon2id hash for everybody ($2 of sc_p): hashing 30 000 passwords would take an hour. */
static const db_stmt insert_members = {
    "seed_scale_members",
    "INSERT INTO members (id, email, display_name, role, discipline, home_site_id, password_hash,"
    "                     must_change_password, created_at, updated_at)"
    " SELECT m.id, 'm' || m.n || '.s' || p.seed || '@scale.forumnet.test',"
    "        (ARRAY['Aisha', 'Alex', 'Amara', 'Ben', 'Callum', 'Chloe', 'Daniel', 'Deepa', 'Ella', 'Emeka',"
    "               'Fatima', 'Grace', 'Hannah', 'Harry', 'Imran', 'Isla', 'Jack', 'Jasmine', 'Kofi', 'Laura',"
    "               'Leah', 'Liam', 'Maya', 'Mohammed', 'Nadia', 'Niamh', 'Noah', 'Olivia', 'Omar', 'Priya',"
    "               'Rachel', 'Rhys', 'Rosa', 'Sam', 'Sara', 'Sophie', 'Tom', 'Yusuf', 'Zainab', 'Zoe'])"
    "          [1 + floor(40 * pg_temp.u(p.seed, 6, m.n))::int] || ' ' ||"
    "        (ARRAY['Ahmed', 'Anderson', 'Begum', 'Brown', 'Campbell', 'Clarke', 'Davies', 'Edwards', 'Evans',"
    "               'Green', 'Hall', 'Harris', 'Hughes', 'Hussain', 'Jackson', 'Jones', 'Khan', 'Kowalski',"
    "               'Lewis', 'Martin', 'Mensah', 'Morgan', 'Murphy', 'Nowak', 'Obi', 'Okafor', 'Patel', 'Roberts',"
    "               'Robinson', 'Shah', 'Singh', 'Smith', 'Taylor', 'Thomas', 'Thompson', 'Walker', 'White',"
    "               'Williams', 'Wilson', 'Wright'])[1 + floor(40 * pg_temp.u(p.seed, 7, m.n))::int],"
    "        m.role,"
    "        CASE WHEN m.role <> 'admin' THEN"
    "          (ARRAY['Social work', 'Midwifery', 'Family therapy', 'Health visiting', 'Psychology', 'Nursing',"
    "                 'Education', 'Probation', 'Youth work', 'Housing'])"
    "            [1 + floor(10 * pg_temp.u(p.seed, 8, m.n))::int] END,"
    "        si.id, p.pwhash, false, t.ts, t.ts"
    " FROM sc_member m CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = m.s"
    " CROSS JOIN LATERAL (SELECT p.t0 - interval '1230 days' + (m.n::float8 / p.n_members) * interval '30 days'"
    "                            AS ts) t"
    " ORDER BY m.n"};

static const db_stmt insert_site_managers = {"seed_scale_site_managers",
                                             "INSERT INTO site_managers (site_id, member_id, created_at)"
                                             " SELECT si.id, m.id, p.t0 - interval '1200 days'"
                                             " FROM sc_member m JOIN sc_site si ON si.s = m.s CROSS JOIN sc_p p"
                                             " WHERE m.role = 'manager' ORDER BY m.n"};

static const db_stmt plan_partners = {"seed_scale_plan_partners",
                                      "CREATE TEMP TABLE sc_partner ON COMMIT DROP AS"
                                      " SELECT k, md5('forumnet:' || p.seed || ':partner:' || k)::uuid AS id,"
                                      "        pg_temp.u(p.seed, 9, k) < 0.6 AS trusted"
                                      " FROM sc_p p, generate_series(1, p.n_partners) k"};

static const db_stmt insert_partners = {
    "seed_scale_partners",
    "INSERT INTO partners (id, name, client_id, secret_digest, trusted, created_at)"
    " SELECT pa.id,"
    "        (ARRAY['Learning Hub', 'Practice Academy', 'Training Partnership', 'Research Centre',"
    "               'Safeguarding Board'])[1 + (pa.k - 1) % 5] || ' ' || pa.k,"
    "        'fnp_scale_s' || p.seed || '_' || pa.k,"
    "        encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'),"
    "        pa.trusted, p.t0 - interval '1235 days' + pa.k * interval '1 hour'"
    " FROM sc_partner pa CROSS JOIN sc_p p ORDER BY pa.k"};

/* Statuses ~70% active, 12% forming, 10% dormant, 8% closed (a planned 'active' network group short of
 * members ends up forming); active groups have 4..8 active members. Forming groups are recent, dormant
 * and closed ones old enough to have met; `ended` is when a dormant group stopped or a closed one closed. */
static const db_stmt plan_groups = {
    "seed_scale_plan_groups",
    "CREATE TEMP TABLE sc_group ON COMMIT DROP AS"
    " WITH b AS ("
    "   SELECT si.s, si.g_lo + j AS g, si.pool_hi - si.pool_lo AS pool"
    "   FROM sc_site si, generate_series(1, si.g_hi - si.g_lo) j"
    "   UNION ALL"
    "   SELECT NULL, p.n_site_groups + j, 0 FROM sc_p p, generate_series(1, p.n_net) j),"
    " c AS ("
    "   SELECT b.g, b.s, b.pool, p.t0,"
    "          CASE WHEN r.x < 0.70 THEN 'active' WHEN r.x < 0.82 THEN 'forming' WHEN r.x < 0.92 THEN 'dormant'"
    "               ELSE 'closed' END AS plan,"
    "          pg_temp.u(p.seed, 11, b.g) AS y, pg_temp.u(p.seed, 12, b.g) AS z,"
    "          pg_temp.u(p.seed, 13, b.g) AS kx, pg_temp.u(p.seed, 14, b.g) < 0.25 AS req,"
    "          pg_temp.u(p.seed, 15, b.g) < 0.15 AS inv, pg_temp.u(p.seed, 16, b.g) < 0.4 AS no_terms,"
    "          pg_temp.u(p.seed, 17, b.g) AS ox, pg_temp.u(p.seed, 18, b.g) < 0.35 AS rep"
    "   FROM b CROSS JOIN sc_p p CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 10, b.g) AS x) r),"
    " d AS ("
    "   SELECT c.*, c.t0 - CASE c.plan WHEN 'forming' THEN 10 + 355 * c.y WHEN 'active' THEN 60 + 1035 * c.y"
    "                                  ELSE 120 + 975 * c.y END * interval '1 day' AS created"
    "   FROM c)"
    " SELECT g, s, plan, created,"
    "        CASE WHEN plan IN ('dormant', 'closed')"
    "             THEN created + interval '60 days' + z * (t0 - created - interval '60 days') END AS ended,"
    "        (CASE plan WHEN 'active' THEN 4 + floor(5 * kx) WHEN 'forming' THEN 1 + floor(6 * kx)"
    "                   WHEN 'dormant' THEN 3 + floor(6 * kx) ELSE 2 + floor(7 * kx) END)::int AS k,"
    "        s IS NOT NULL AND plan <> 'closed' AND req AS req,"
    "        s IS NOT NULL AND plan <> 'closed' AND inv AS inv,"
    "        CASE WHEN plan = 'forming' AND no_terms THEN 0 ELSE 1 END AS terms,"
    "        floor(ox * pool)::int AS o,"
    "        s IS NOT NULL AND plan <> 'forming' AND rep AS rep"
    " FROM d"};

static const db_stmt analyze_groups = {"seed_scale_analyze_group", "ANALYZE sc_group"};

/* A site group takes k active members, then a requested and an invited one, from a window of
 * consecutive members of its site's pool starting at a random offset: distinct within the group, and
 * overlapping windows put some members in several groups and leave others in none. */
static const db_stmt plan_site_memberships = {
    "seed_scale_plan_site_memberships",
    "CREATE TEMP TABLE sc_gm ON COMMIT DROP AS"
    " SELECT gr.g, i AS slot, m.n, m.id AS mid,"
    "        CASE WHEN i < gr.k THEN 'active' WHEN i = gr.k AND gr.req THEN 'requested' ELSE 'invited' END"
    "          AS state,"
    "        CASE WHEN i = 0 THEN 'convener' WHEN i = 1 AND gr.rep THEN 'representative'"
    "             WHEN i < gr.k AND m.role = 'facilitator' THEN 'facilitator' ELSE 'member' END AS role,"
    "        NULL::int AS rep_of"
    " FROM sc_group gr JOIN sc_site si ON si.s = gr.s CROSS JOIN sc_p p"
    " CROSS JOIN LATERAL generate_series(0, gr.k - 1 + gr.req::int + gr.inv::int) i"
    " JOIN sc_member m"
    "   ON m.n = p.n_admins + 2 * p.n_sites + si.pool_lo + 1 + (gr.o + i) % (si.pool_hi - si.pool_lo)"};

/* A network-wide group is convened by an admin; its other members are representatives of open site
 * groups (each representative in one network group), dealt round-robin, at most 7 per group. */
static const db_stmt plan_network_memberships = {
    "seed_scale_plan_network_memberships",
    "INSERT INTO sc_gm (g, slot, n, mid, state, role, rep_of)"
    " SELECT gr.g, 0, m.n, m.id, 'active', 'convener', NULL"
    " FROM sc_group gr CROSS JOIN sc_p p JOIN sc_member m ON m.n = 1 + gr.g % p.n_admins"
    " WHERE gr.s IS NULL"
    " UNION ALL"
    " SELECT p.n_site_groups + 1 + (r.r - 1) % p.n_net, 1 + (r.r - 1) / p.n_net, r.n, r.mid, 'active',"
    "        'representative', r.from_g"
    " FROM sc_p p,"
    "      (SELECT d.n, d.mid, d.from_g, row_number() OVER (ORDER BY d.n) AS r"
    "       FROM (SELECT DISTINCT ON (gm.n) gm.n, gm.mid, gm.g AS from_g"
    "             FROM sc_gm gm JOIN sc_group gr ON gr.g = gm.g"
    "             WHERE gm.role = 'representative' AND gr.plan <> 'closed' ORDER BY gm.n, gm.g) d) r"
    " WHERE (r.r - 1) / nullif(p.n_net, 0) < 7"};

static const db_stmt analyze_memberships = {"seed_scale_analyze_gm", "ANALYZE sc_gm"};

/* The status rule of groups_db_recompute: 'active' needs min_members (4) active members who all
 * accepted the current terms; dormant and closed stay as planned. */
static const db_stmt plan_groups_final = {
    "seed_scale_plan_groups_final",
    "CREATE TEMP TABLE sc_gfin ON COMMIT DROP AS"
    " SELECT gr.*, md5('forumnet:' || p.seed || ':group:' || gr.g)::uuid AS id, c.active, c.total,"
    "        conv.mid AS conv_id,"
    "        CASE WHEN gr.plan IN ('dormant', 'closed') THEN gr.plan"
    "             WHEN gr.plan = 'active' AND c.active >= 4 THEN 'active' ELSE 'forming' END AS status"
    " FROM sc_group gr CROSS JOIN sc_p p"
    " JOIN (SELECT g, (count(*) FILTER (WHERE state = 'active'))::int AS active, count(*)::int AS total"
    "       FROM sc_gm GROUP BY g) c ON c.g = gr.g"
    " JOIN sc_gm conv ON conv.g = gr.g AND conv.slot = 0"};

static const db_stmt analyze_groups_final = {"seed_scale_analyze_gfin", "ANALYZE sc_gfin"};

/* Accepted terms (acc): everybody active in a group with terms, except that a forming group with
 * enough members has its newest member still to accept (else the rule would make it active), and in a
 * small forming group each member has accepted with probability 0.7. */
static const db_stmt plan_memberships_final = {
    "seed_scale_plan_memberships_final",
    "CREATE TEMP TABLE sc_ms ON COMMIT DROP AS"
    " SELECT gm.g, gm.slot, gm.mid, gm.state, gm.role, gm.rep_of, gf.id AS gid,"
    "        CASE WHEN gm.state <> 'active' OR gf.terms = 0 THEN 0"
    "             WHEN gf.status = 'forming' AND gf.active >= 4 THEN (gm.slot <> gf.active - 1)::int"
    "             WHEN gf.status = 'forming' THEN (pg_temp.u(p.seed, 20, gm.g::bigint * 16 + gm.slot) < 0.7)::int"
    "             ELSE 1 END AS acc,"
    "        CASE WHEN gm.state = 'active'"
    "             THEN gf.created + gm.slot * interval '1 day'"
    "                  + pg_temp.u(p.seed, 21, gm.g::bigint * 16 + gm.slot) * interval '12 hours' END AS joined,"
    "        CASE WHEN gm.state <> 'active'"
    "             THEN greatest(gf.created + interval '10 days',"
    "                           p.t0 - pg_temp.u(p.seed, 22, gm.g::bigint * 16 + gm.slot) * interval '60 days')"
    "             END AS asked"
    " FROM sc_gm gm JOIN sc_gfin gf ON gf.g = gm.g CROSS JOIN sc_p p"};

static const db_stmt insert_groups = {
    "seed_scale_groups",
    "INSERT INTO groups (id, site_id, name, purpose, composition, focus, min_members, max_members, status,"
    "                    member_count, terms_version, created_by, closed_at, version, created_at)"
    " SELECT gf.id, si.id,"
    "        CASE WHEN gf.s IS NULL THEN 'Network forum ' || gf.g"
    "             ELSE (ARRAY['Reflective practice', 'Case discussion', 'New practitioners', 'Peer supervision',"
    "                         'Practice development', 'Learning circle'])"
    "                    [1 + floor(6 * pg_temp.u(p.seed, 23, gf.g))::int] || ' group ' || gf.g END,"
    "        CASE WHEN pg_temp.u(p.seed, 24, gf.g) < 0.7"
    "             THEN 'A space for practitioners to think about their work together.' END,"
    "        CASE WHEN pg_temp.u(p.seed, 25, gf.g) < 0.8 THEN 'multi_disciplinary' ELSE 'single_discipline' END,"
    "        (ARRAY['organisation', 'locality', 'specialism', 'other'])"
    "          [1 + floor(4 * pg_temp.u(p.seed, 26, gf.g))::int],"
    "        4, 8, gf.status, gf.active, gf.terms, gf.conv_id, CASE WHEN gf.plan = 'closed' THEN gf.ended END,"
    "        1 + gf.total + gf.terms, gf.created"
    " FROM sc_gfin gf CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = gf.s"
    " ORDER BY gf.g"};

static const db_stmt insert_memberships = {
    "seed_scale_group_memberships",
    "INSERT INTO group_memberships (group_id, member_id, state, role, represents_group_id, invited_by,"
    "                               created_at, joined_at, accepted_terms_version, version)"
    " SELECT ms.gid, ms.mid, ms.state, ms.role, rg.id, CASE WHEN ms.state = 'invited' THEN gf.conv_id END,"
    "        CASE WHEN ms.state <> 'active' THEN ms.asked WHEN ms.slot = 0 THEN ms.joined"
    "             ELSE ms.joined - interval '1 day' END,"
    "        ms.joined, ms.acc, 1 + (ms.state = 'active')::int + ms.acc"
    " FROM sc_ms ms JOIN sc_gfin gf ON gf.g = ms.g LEFT JOIN sc_gfin rg ON rg.g = ms.rep_of"
    " ORDER BY ms.g, ms.slot"};

static const db_stmt insert_group_terms = {
    "seed_scale_group_terms",
    "INSERT INTO group_terms (group_id, version, body, review_on, created_by, created_at)"
    " SELECT gf.id, 1,"
    "        'We meet regularly, keep what is shared confidential, and take turns to bring work for discussion.',"
    "        (gf.created + interval '1 year')::date, gf.conv_id, gf.created + interval '1 day'"
    " FROM sc_gfin gf WHERE gf.terms = 1 ORDER BY gf.g"};

static const db_stmt insert_terms_acceptances = {
    "seed_scale_terms_acceptances",
    "INSERT INTO terms_acceptances (group_id, version, member_id, accepted_at)"
    " SELECT ms.gid, 1, ms.mid, greatest(ms.joined, gf.created + interval '1 day') + interval '2 hours'"
    " FROM sc_ms ms JOIN sc_gfin gf ON gf.g = ms.g WHERE ms.acc = 1 ORDER BY ms.g, ms.slot"};

/* Meetings go to groups in proportion to how long each has been meeting (from 14 days after it was
 * created to when it stopped, or 30 days ahead), weighted by status: mostly active and dormant groups.
 * A group's meetings are evenly spread with jitter, 9:00-18:30, 1 to 3 hours. 95% of ended meetings
 * have their attendance recorded. r is MATERIALIZED so each group's range is computed once, not per row. */
static const db_stmt plan_meetings = {
    "seed_scale_plan_meetings",
    "CREATE TEMP TABLE sc_meeting ON COMMIT DROP AS"
    " WITH w AS ("
    "   SELECT gf.g, gf.created, gf.conv_id, x.ws, x.we,"
    "          round((CASE gf.status WHEN 'active' THEN 1.0 WHEN 'forming' THEN 0.15 ELSE 0.8 END"
    "                 * greatest(extract(epoch FROM x.we - x.ws) / 86400, 1))::numeric, 3) AS w"
    "   FROM sc_gfin gf CROSS JOIN sc_p p"
    "   CROSS JOIN LATERAL (SELECT gf.created + interval '14 days' AS ws,"
    "                              CASE WHEN gf.ended IS NOT NULL THEN gf.ended - interval '1 day'"
    "                                   ELSE p.t0 + interval '30 days' END AS we) x),"
    " c AS ("
    "   SELECT w.*, sum(w.w) OVER (ORDER BY w.g) AS cw, sum(w.w) OVER () AS tw,"
    "          coalesce(sum(w.w) OVER (ORDER BY w.g ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS cwb"
    "   FROM w),"
    " r AS MATERIALIZED ("
    "   SELECT c.g, c.created, c.conv_id, c.ws, c.we, round(c.cwb / c.tw * p.n_meetings)::int AS m_lo,"
    "          round(c.cw / c.tw * p.n_meetings)::int AS m_hi"
    "   FROM c CROSS JOIN sc_p p),"
    " m AS ("
    "   SELECT r.g, mi, r.conv_id, r.created,"
    "          date_trunc('day', r.ws + (mi - r.m_lo - 0.9 + 0.8 * pg_temp.u(p.seed, 30, mi))"
    "                                   / (r.m_hi - r.m_lo) * (r.we - r.ws), 'UTC')"
    "            + (9 + floor(9 * pg_temp.u(p.seed, 31, mi))) * interval '1 hour'"
    "            + CASE WHEN pg_temp.u(p.seed, 32, mi) < 0.5 THEN interval '30 minutes' ELSE interval '0' END"
    "            AS starts_at"
    "   FROM r CROSS JOIN sc_p p CROSS JOIN LATERAL generate_series(r.m_lo + 1, r.m_hi) mi)"
    " SELECT m.g, m.mi, md5('forumnet:' || p.seed || ':meeting:' || m.mi)::uuid AS id, m.conv_id, m.created,"
    "        m.starts_at, e.ends_at, e.ends_at < p.t0 AND pg_temp.u(p.seed, 34, m.mi) < 0.95 AS recorded"
    " FROM m CROSS JOIN sc_p p"
    " CROSS JOIN LATERAL (SELECT m.starts_at + (60 + 30 * floor(5 * pg_temp.u(p.seed, 33, m.mi)))"
    "                                          * interval '1 minute' AS ends_at) e"};

static const db_stmt analyze_meetings = {"seed_scale_analyze_meeting", "ANALYZE sc_ms, sc_meeting"};

/* One draw per (meeting, active member slot) decides attendance: present below 0.75, apologies below
 * 0.90, else absent. The meeting's counts (sql/005) and its attendance rows come from the same draw, so
 * they agree by construction. */
#define ATTENDANCE_FROM                                                                                                \
  " FROM sc_meeting m JOIN sc_ms a ON a.g = m.g AND a.state = 'active' CROSS JOIN sc_p p"                              \
  " CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 50, m.mi::bigint * 8 + a.slot) AS v) x"                               \
  " WHERE m.recorded"
#define ATTENDANCE_PRESENT "x.v < 0.75"
#define ATTENDANCE_APOLOGIES "x.v < 0.90"

/* 0-3 themes from 30 tags, the first tags far more common (so "most shared themes" means something). */
static const db_stmt insert_meetings = {
    "seed_scale_meetings",
    "INSERT INTO meetings (id, group_id, starts_at, ends_at, location, online, agenda, themes, created_by,"
    "                      version, created_at, present_count, attendance_count)"
    " SELECT m.id, gf.id, m.starts_at, m.ends_at,"
    "        CASE WHEN NOT o.online THEN (ARRAY['Family Centre, room 2', 'Civic Centre', 'Team base',"
    "                                           'Library meeting room', 'Health centre'])"
    "                                      [1 + floor(5 * pg_temp.u(p.seed, 35, m.mi))::int] END,"
    "        o.online,"
    "        CASE WHEN pg_temp.u(p.seed, 36, m.mi) < 0.8"
    "             THEN (ARRAY['Case discussion', 'Reflective practice session', 'Peer supervision',"
    "                         'Themes from the month', 'Planning and review'])"
    "                    [1 + floor(5 * pg_temp.u(p.seed, 37, m.mi))::int] END,"
    "        CASE WHEN th.n = 0 THEN '{}'::text[]"
    "             ELSE ARRAY[v.tags[1 + th.t1]]"
    "                  || CASE WHEN th.n >= 2 AND th.t2 <> th.t1 THEN ARRAY[v.tags[1 + th.t2]]"
    "                          ELSE '{}'::text[] END"
    "                  || CASE WHEN th.n >= 3 AND th.t3 <> th.t1 AND th.t3 <> th.t2 THEN ARRAY[v.tags[1 + th.t3]]"
    "                          ELSE '{}'::text[] END END,"
    "        m.conv_id, CASE WHEN m.recorded THEN 2 ELSE 1 END,"
    "        greatest(m.created, least(m.starts_at - interval '14 days', p.t0 - interval '1 hour')),"
    "        coalesce(c.present, 0), coalesce(c.recorded, 0)"
    " FROM sc_meeting m JOIN sc_gfin gf ON gf.g = m.g CROSS JOIN sc_p p"
    " CROSS JOIN (SELECT ARRAY['safeguarding', 'domestic-abuse', 'mental-health', 'substance-misuse', 'housing',"
    "                          'poverty', 'care-proceedings', 'contraception', 'trauma-informed-practice',"
    "                          'reflective-practice', 'supervision', 'burnout', 'wellbeing', 'multi-agency-working',"
    "                          'child-protection', 'perinatal-care', 'neglect', 'parenting', 'relationships',"
    "                          'youth-justice', 'education', 'employment', 'benefits', 'immigration',"
    "                          'disability', 'neurodiversity', 'bereavement', 'court-skills', 'caseload-pressure',"
    "                          'recording-practice'] AS tags) v"
    " CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 38, m.mi) < 0.35 AS online) o"
    " CROSS JOIN LATERAL (SELECT floor(4 * pg_temp.u(p.seed, 39, m.mi))::int AS n,"
    "                            floor(30 * power(pg_temp.u(p.seed, 40, m.mi), 1.6))::int AS t1,"
    "                            floor(30 * power(pg_temp.u(p.seed, 41, m.mi), 1.6))::int AS t2,"
    "                            floor(30 * power(pg_temp.u(p.seed, 42, m.mi), 1.6))::int AS t3) th"
    " LEFT JOIN (SELECT m.mi, (count(*) FILTER (WHERE " ATTENDANCE_PRESENT "))::int AS present,"
    "                   count(*)::int AS recorded" ATTENDANCE_FROM " GROUP BY m.mi) c ON c.mi = m.mi"};

static const db_stmt insert_attendance = {"seed_scale_meeting_attendance",
                                          "INSERT INTO meeting_attendance (meeting_id, member_id, status, recorded_at)"
                                          " SELECT m.id, a.mid,"
                                          "        CASE WHEN " ATTENDANCE_PRESENT
                                          " THEN 'present' WHEN " ATTENDANCE_APOLOGIES " THEN 'apologies'"
                                          "             ELSE 'absent' END,"
                                          "        least(m.ends_at + interval '1 day', p.t0)" ATTENDANCE_FROM};

/* Consultations are owned by a manager of one site and target it: 10% draft (opening later), 15% open
 * (closing later), 35% closed, 40% with a published outcome, running 4 to 8 weeks over three years. */
static const db_stmt plan_consultations = {
    "seed_scale_plan_consultations",
    "CREATE TEMP TABLE sc_cons ON COMMIT DROP AS"
    " SELECT k.c, md5('forumnet:' || p.seed || ':consultation:' || k.c)::uuid AS id, k.s, own.id AS owner_id,"
    "        k.status, k.nq, k.topic, t.opens, t.opens + k.dur AS closes,"
    "        CASE WHEN k.status = 'draft' THEN p.t0 - 30 * pg_temp.u(p.seed, 66, k.c) * interval '1 day'"
    "             ELSE t.opens - (7 + 14 * pg_temp.u(p.seed, 66, k.c)) * interval '1 day' END AS created"
    " FROM (SELECT c, 1 + floor(p.n_sites * pg_temp.u(p.seed, 60, c))::int AS s,"
    "              CASE WHEN r.x < 0.10 THEN 'draft' WHEN r.x < 0.25 THEN 'open' WHEN r.x < 0.60 THEN 'closed'"
    "                   ELSE 'outcome_published' END AS status,"
    "              (28 + floor(29 * pg_temp.u(p.seed, 62, c))) * interval '1 day' AS dur,"
    "              pg_temp.u(p.seed, 63, c) AS y, 2 + floor(4 * pg_temp.u(p.seed, 64, c))::int AS nq,"
    "              pg_temp.u(p.seed, 65, c) < 0.5 AS second, 1 + floor(10 * pg_temp.u(p.seed, 67, c))::int AS topic"
    "       FROM sc_p p, generate_series(1, p.n_consultations) c,"
    "            LATERAL (SELECT pg_temp.u(p.seed, 61, c) AS x) r) k"
    " CROSS JOIN sc_p p"
    " JOIN sc_member m2 ON m2.n = p.n_admins + 2 * k.s"
    " JOIN sc_member own"
    "   ON own.n = p.n_admins + 2 * k.s - CASE WHEN m2.role = 'manager' AND k.second THEN 0 ELSE 1 END"
    " CROSS JOIN LATERAL (SELECT CASE k.status WHEN 'draft' THEN p.t0 + (7 + 53 * k.y) * interval '1 day'"
    "                                          WHEN 'open' THEN p.t0 - k.y * (k.dur - interval '2 days')"
    "                                          ELSE p.t0 - (2 + 1030 * k.y) * interval '1 day' - k.dur END"
    "                            AS opens) t"};

static const db_stmt analyze_consultations = {"seed_scale_analyze_cons", "ANALYZE sc_cons"};

static const db_stmt insert_consultations = {
    "seed_scale_consultations",
    "INSERT INTO consultations (id, title, summary, questions, status, opens_at, closes_at, created_by, outcome,"
    "                           version, created_at)"
    " SELECT k.id, t.topic || ' (consultation ' || k.c || ')',"
    "        'We would like each forum''s view on ' || lower(t.topic) || ', to shape what we do next.',"
    "        (SELECT jsonb_agg(jsonb_build_object('id', 'q' || q, 'text',"
    "                  (ARRAY['What is working well?', 'What gets in the way?', 'What should we change first?',"
    "                         'What support would make the most difference?', 'Who else should we talk to?',"
    "                         'Anything else you want us to know?'])[1 + (k.c + q) % 6]) ORDER BY q)"
    "         FROM generate_series(1, k.nq) q),"
    "        k.status, k.opens, k.closes, k.owner_id,"
    "        CASE WHEN k.status = 'outcome_published' THEN jsonb_build_object("
    "          'summary', 'What we heard from the forums, and what we will do about it.',"
    "          'actions', (SELECT jsonb_agg(jsonb_build_object("
    "                        'text', (ARRAY['Review the guidance', 'Fund protected time', 'Pilot a new approach',"
    "                                       'Report back to the forums'])[a],"
    "                        'status', (ARRAY['planned', 'in_progress', 'done', 'not_doing'])"
    "                                    [1 + floor(4 * pg_temp.u(p.seed, 70, k.c::bigint * 8 + a))::int])"
    "                        ORDER BY a)"
    "                      FROM generate_series(1, 1 + floor(4 * pg_temp.u(p.seed, 71, k.c))::int) a),"
    "          'published_at', rfc3339(least(k.closes + (7 + 33 * pg_temp.u(p.seed, 72, k.c)) * interval '1 day',"
    "                                        p.t0 - interval '1 hour'))) END,"
    "        CASE k.status WHEN 'draft' THEN 1 WHEN 'open' THEN 2 WHEN 'closed' THEN 3 ELSE 4 END,"
    "        k.created"
    " FROM sc_cons k CROSS JOIN sc_p p"
    " CROSS JOIN LATERAL (SELECT (ARRAY['Supervision arrangements', 'Caseload weighting', 'Training priorities',"
    "                                   'Hybrid working', 'Recording requirements', 'Wellbeing support',"
    "                                   'Multi-agency meetings', 'Induction for new staff', 'Practice guidance',"
    "                                   'Service redesign'])[k.topic] AS topic) t"
    " ORDER BY k.c"};

static const db_stmt insert_consultation_sites = {
    "seed_scale_consultation_target_sites",
    "INSERT INTO consultation_target_sites (consultation_id, site_id)"
    " SELECT k.id, si.id FROM sc_cons k JOIN sc_site si ON si.s = k.s ORDER BY k.c"};

/* Targeted groups are the target site's groups that are not closed (consultation_targeted_groups):
 * 60% of them submitted an answer to every question; 10% more of an open consultation's have a draft. */
static const db_stmt insert_responses = {
    "seed_scale_consultation_responses",
    "INSERT INTO consultation_responses (consultation_id, group_id, answers, status, submitted_at, version,"
    "                                    created_at, updated_at)"
    " SELECT k.id, gf.id,"
    "        (SELECT jsonb_agg(jsonb_build_object('question_id', 'q' || q, 'text',"
    "                  (ARRAY['We discussed this at our last meeting and broadly agree.',"
    "                         'Views in the group were mixed; most of us want more time for this.',"
    "                         'This matters a lot to us: please keep the forums involved.',"
    "                         'We would like clearer guidance before anything changes.',"
    "                         'We have some examples we are happy to share.'])[1 + (gf.g + q) % 5]) ORDER BY q)"
    "         FROM generate_series(1, k.nq) q),"
    "        CASE WHEN r.x < 0.6 THEN 'submitted' ELSE 'draft' END,"
    "        CASE WHEN r.x < 0.6 THEN t.at END,"
    "        CASE WHEN r.x < 0.6 THEN 2 ELSE 1 END,"
    "        CASE WHEN r.x < 0.6 THEN greatest(k.opens, t.at - interval '3 days') ELSE t.at END,"
    "        t.at"
    " FROM sc_cons k JOIN sc_gfin gf ON gf.s = k.s AND gf.status <> 'closed' CROSS JOIN sc_p p"
    " CROSS JOIN LATERAL (SELECT pg_temp.u(p.seed, 80, k.c::bigint * 100003 + gf.g) AS x) r"
    " CROSS JOIN LATERAL (SELECT k.opens + (0.1 + 0.8 * pg_temp.u(p.seed, 81, k.c::bigint * 100003 + gf.g))"
    "                                      * (least(k.closes, p.t0) - k.opens) AS at) t"
    " WHERE k.status <> 'draft' AND (r.x < 0.6 OR (k.status = 'open' AND r.x < 0.7))"
    " ORDER BY k.c, gf.g"};

/* Events: 75% by a manager for their site, 5% network-wide by an admin, 20% by partners (a fifth of
 * those network-wide, the rest for 1-3 sites), so every site also sees the ~9% network-wide events.
 * Pending only for an untrusted partner's future events (a manager or admin approves them); 5%
 * cancelled. Three years back to one year ahead; capacity 20..200, or none for a quarter of them. */
static const db_stmt plan_events = {
    "seed_scale_plan_events",
    "CREATE TEMP TABLE sc_event ON COMMIT DROP AS"
    " WITH b AS ("
    "   SELECT e, CASE WHEN r.x < 0.20 THEN 'partner' WHEN r.x < 0.95 THEN 'manager' ELSE 'admin' END"
    "               AS owner_kind,"
    "          1 + floor(p.n_sites * pg_temp.u(p.seed, 91, e))::int AS s1,"
    "          CASE WHEN r.y < 0.25 THEN 'learning_forum' WHEN r.y < 0.45 THEN 'seminar'"
    "               WHEN r.y < 0.70 THEN 'workshop' WHEN r.y < 0.85 THEN 'training'"
    "               WHEN r.y < 0.95 THEN 'network_meeting' ELSE 'other' END AS kind,"
    "          date_trunc('day', p.t0 - interval '1095 days' + 1460 * pg_temp.u(p.seed, 93, e) * interval '1 day',"
    "                     'UTC')"
    "            + (9 + floor(9 * pg_temp.u(p.seed, 94, e))) * interval '1 hour' AS starts_at,"
    "          pg_temp.u(p.seed, 95, e) AS dx,"
    "          CASE WHEN pg_temp.u(p.seed, 96, e) >= 0.25"
    "               THEN 20 + floor(181 * pg_temp.u(p.seed, 97, e))::int END AS capacity,"
    "          1 + floor(p.n_partners * pg_temp.u(p.seed, 98, e))::int AS pk"
    "   FROM sc_p p, generate_series(1, p.n_events) e,"
    "        LATERAL (SELECT pg_temp.u(p.seed, 90, e) AS x, pg_temp.u(p.seed, 92, e) AS y) r)"
    " SELECT b.e, md5('forumnet:' || p.seed || ':event:' || b.e)::uuid AS id, b.kind, b.starts_at,"
    "        b.starts_at + CASE WHEN b.kind = 'training' AND b.dx < 0.4 THEN interval '1 day 7 hours'"
    "                           ELSE (1 + floor(6 * b.dx)) * interval '1 hour' END AS ends_at,"
    "        b.owner_kind = 'admin' OR (b.owner_kind = 'partner' AND pg_temp.u(p.seed, 99, b.e) < 0.2)"
    "          AS network_wide,"
    "        b.s1,"
    "        CASE WHEN b.owner_kind = 'partner'"
    "             THEN least(1 + floor(3 * pg_temp.u(p.seed, 100, b.e))::int, p.n_sites) ELSE 1 END AS nsites,"
    "        b.capacity,"
    "        CASE WHEN pg_temp.u(p.seed, 102, b.e) < 0.05 THEN 'cancelled'"
    "             WHEN b.owner_kind = 'partner' AND NOT pa.trusted AND b.starts_at > p.t0"
    "                  AND pg_temp.u(p.seed, 103, b.e) < 0.5 THEN 'pending'"
    "             ELSE 'published' END AS status,"
    "        own.id AS created_by, CASE WHEN b.owner_kind = 'partner' THEN pa.id END AS partner_id,"
    "        CASE WHEN b.owner_kind = 'partner' AND pg_temp.u(p.seed, 105, b.e) < 0.8 THEN 'ext-' || b.e END"
    "          AS external_id,"
    "        greatest(p.t0 - interval '1200 days',"
    "                 least(b.starts_at - (7 + 83 * pg_temp.u(p.seed, 104, b.e)) * interval '1 day',"
    "                       p.t0 - interval '1 hour')) AS created,"
    "        pg_temp.u(p.seed, 106, b.e) < 0.4 AS online"
    " FROM b CROSS JOIN sc_p p"
    " JOIN sc_member m2 ON m2.n = p.n_admins + 2 * b.s1"
    " JOIN sc_partner pa ON pa.k = b.pk"
    " LEFT JOIN sc_member own"
    "   ON own.n = CASE b.owner_kind"
    "                WHEN 'manager' THEN p.n_admins + 2 * b.s1 - CASE WHEN m2.role = 'manager'"
    "                                      AND pg_temp.u(p.seed, 101, b.e) < 0.5 THEN 0 ELSE 1 END"
    "                WHEN 'admin' THEN 1 + floor(p.n_admins * pg_temp.u(p.seed, 101, b.e))::int END"};

static const db_stmt analyze_events = {"seed_scale_analyze_event", "ANALYZE sc_event"};

static const db_stmt insert_events = {
    "seed_scale_events",
    "INSERT INTO events (id, kind, title, description, starts_at, ends_at, location, online_url, network_wide,"
    "                    capacity, status, created_by, partner_id, external_id, version, created_at)"
    " SELECT ev.id, ev.kind,"
    "        initcap(replace(ev.kind, '_', ' ')) || ': ' ||"
    "          (ARRAY['working with families under pressure', 'reflective supervision', 'trauma-informed practice',"
    "                 'recording that helps', 'multi-agency working', 'looking after yourself', 'court skills',"
    "                 'perinatal mental health'])[1 + floor(8 * pg_temp.u(p.seed, 107, ev.e))::int],"
    "        CASE WHEN pg_temp.u(p.seed, 108, ev.e) < 0.5"
    "             THEN 'An event for practitioners across the network.' END,"
    "        ev.starts_at, ev.ends_at,"
    "        CASE WHEN NOT ev.online THEN (ARRAY['Town Hall', 'Conference centre', 'Family Centre',"
    "                                            'University campus', 'Community hall'])"
    "                                       [1 + floor(5 * pg_temp.u(p.seed, 109, ev.e))::int] END,"
    "        CASE WHEN ev.online THEN 'https://events.scale.forumnet.test/e/' || ev.e END,"
    "        ev.network_wide, ev.capacity, ev.status, ev.created_by, ev.partner_id, ev.external_id,"
    "        CASE WHEN ev.status = 'cancelled' THEN 2 ELSE 1 END, ev.created"
    " FROM sc_event ev CROSS JOIN sc_p p"
    " ORDER BY ev.e"};

static const db_stmt insert_event_sites = {
    "seed_scale_event_sites",
    "INSERT INTO event_sites (event_id, site_id)"
    " SELECT ev.id, si.id"
    " FROM sc_event ev CROSS JOIN sc_p p CROSS JOIN LATERAL generate_series(0, ev.nsites - 1) j"
    " JOIN sc_site si ON si.s = 1 + (ev.s1 - 1 + j) % p.n_sites"
    " WHERE NOT ev.network_wide"
    " ORDER BY ev.e, j"};

/* An event's r registrants are consecutive members (from a random offset) of its first site's pool, or
 * of all non-admin members for a network-wide event, so each can see it. The first w asked to go, in
 * order: 'going' up to capacity, then 'waitlisted' (so a waitlist exists only when full, and is behind
 * everyone going); the rest are interested or declined. r is 30%..130% of capacity (5..60 without one). */
static const db_stmt insert_registrations = {
    "seed_scale_event_registrations",
    "INSERT INTO event_registrations (event_id, member_id, status, requested_going_at, version, created_at,"
    "                                 updated_at)"
    " SELECT ev.id, m.id,"
    "        CASE WHEN i < q.w AND (ev.capacity IS NULL OR i < ev.capacity) THEN 'going'"
    "             WHEN i < q.w THEN 'waitlisted'"
    "             WHEN pg_temp.u(p.seed, 113, ev.e::bigint * 512 + i) < 0.67 THEN 'interested'"
    "             ELSE 'declined' END,"
    "        CASE WHEN i < q.w THEN t.at END, 1, t.at, t.at"
    " FROM sc_event ev CROSS JOIN sc_p p LEFT JOIN sc_site si ON si.s = ev.s1"
    " CROSS JOIN LATERAL (SELECT CASE WHEN ev.network_wide THEN p.n_members - p.n_admins"
    "                                 ELSE si.pool_hi - si.pool_lo END AS pop) o"
    " CROSS JOIN LATERAL (SELECT least(o.pop, CASE WHEN ev.capacity IS NULL"
    "                                              THEN 5 + floor(56 * pg_temp.u(p.seed, 110, ev.e))"
    "                                              ELSE round(ev.capacity * (0.3 + pg_temp.u(p.seed, 110, ev.e)))"
    "                                              END)::int AS r) rr"
    " CROSS JOIN LATERAL (SELECT rr.r, round(rr.r * (0.6 + 0.3 * pg_temp.u(p.seed, 111, ev.e)))::int AS w,"
    "                            floor(o.pop * pg_temp.u(p.seed, 112, ev.e))::int AS off) q"
    " CROSS JOIN LATERAL generate_series(0, q.r - 1) i"
    " CROSS JOIN LATERAL (SELECT ev.created + (i + 1)::float8 / (q.r + 1) * (least(ev.starts_at, p.t0) - ev.created)"
    "                            AS at) t"
    " JOIN sc_member m ON m.n = CASE WHEN ev.network_wide THEN p.n_admins + 1 + (q.off + i) % o.pop"
    "                                ELSE p.n_admins + 2 * p.n_sites + si.pool_lo + 1 + (q.off + i) % o.pop END"
    " WHERE ev.status <> 'pending'"};

/* Statistics for the new rows, so the first summaries are planned on real numbers. */
static const db_stmt analyze_tables = {
    "seed_scale_analyze", "ANALYZE sites, members, site_managers, partners, groups, group_memberships, group_terms,"
                          " terms_acceptances, meetings, meeting_attendance, consultations, consultation_target_sites,"
                          " consultation_responses, events, event_sites, event_registrations"};

static const db_stmt count_tables = {
    "seed_scale_count",
    "SELECT t, n FROM (VALUES"
    " (1, 'sites', (SELECT count(*) FROM sites)), (2, 'members', (SELECT count(*) FROM members)),"
    " (3, 'site_managers', (SELECT count(*) FROM site_managers)), (4, 'partners', (SELECT count(*) FROM partners)),"
    " (5, 'groups', (SELECT count(*) FROM groups)), (6, 'group_memberships', (SELECT count(*) FROM group_memberships)),"
    " (7, 'group_terms', (SELECT count(*) FROM group_terms)),"
    " (8, 'terms_acceptances', (SELECT count(*) FROM terms_acceptances)),"
    " (9, 'meetings', (SELECT count(*) FROM meetings)),"
    " (10, 'meeting_attendance', (SELECT count(*) FROM meeting_attendance)),"
    " (11, 'consultations', (SELECT count(*) FROM consultations)),"
    " (12, 'consultation_target_sites', (SELECT count(*) FROM consultation_target_sites)),"
    " (13, 'consultation_responses', (SELECT count(*) FROM consultation_responses)),"
    " (14, 'events', (SELECT count(*) FROM events)), (15, 'event_sites', (SELECT count(*) FROM event_sites)),"
    " (16, 'event_registrations', (SELECT count(*) FROM event_registrations))) v(i, t, n)"
    " ORDER BY i"};

/* The generation, in order. A step with a table name ends a reported stage: its time includes the
 * working steps before it, and its row count is that INSERT's. */
typedef struct scale_step {
  const char *table; /* NULL: a working step (temporary tables, statistics) */
  const db_stmt *stmt;
} scale_step;

static const scale_step scale_steps[] = {
    {NULL, &transaction_settings},
    {NULL, &create_draw_function},
    {NULL, &plan_parameters},
    {NULL, &analyze_parameters},
    {NULL, &plan_sites},
    {NULL, &analyze_sites},
    {NULL, &plan_members},
    {NULL, &analyze_members},
    {"sites", &insert_sites},
    {"members", &insert_members},
    {"site_managers", &insert_site_managers},
    {NULL, &plan_partners},
    {"partners", &insert_partners},
    {NULL, &plan_groups},
    {NULL, &analyze_groups},
    {NULL, &plan_site_memberships},
    {NULL, &plan_network_memberships},
    {NULL, &analyze_memberships},
    {NULL, &plan_groups_final},
    {NULL, &analyze_groups_final},
    {NULL, &plan_memberships_final},
    {"groups", &insert_groups},
    {"group_memberships", &insert_memberships},
    {"group_terms", &insert_group_terms},
    {"terms_acceptances", &insert_terms_acceptances},
    {NULL, &plan_meetings},
    {NULL, &analyze_meetings},
    {"meetings", &insert_meetings},
    {"meeting_attendance", &insert_attendance},
    {NULL, &plan_consultations},
    {NULL, &analyze_consultations},
    {"consultations", &insert_consultations},
    {"consultation_target_sites", &insert_consultation_sites},
    {"consultation_responses", &insert_responses},
    {NULL, &plan_events},
    {NULL, &analyze_events},
    {"events", &insert_events},
    {"event_sites", &insert_event_sites},
    {"event_registrations", &insert_registrations},
};

#define SCALE_STEP_COUNT (sizeof scale_steps / sizeof scale_steps[0])

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void report_failure(const char *what, fn_status st, db_conn *db) {
  const char *state = db_last_sqlstate(db);
  fprintf(stderr, "seeding failed at %s: %s%s%s%s; nothing was changed\n", what, fn_status_title(st),
          state[0] ? " (SQLSTATE " : "", state, state[0] ? ")" : "");
}

static fn_status exec_simple(db_conn *db, const db_stmt *stmt, int nparams, const char *const *params,
                             const char *what) {
  fn_status st = db_exec_command(db, stmt, nparams, params);
  if (st != FN_OK)
    report_failure(what, st, db);
  return st;
}

/* Runs every step inside the caller's transaction, printing each reported stage. */
static fn_status run_steps(db_conn *db, const char *params[3]) {
  struct timespec stage;
  clock_gettime(CLOCK_MONOTONIC, &stage);
  for (size_t i = 0; i < SCALE_STEP_COUNT; i++) {
    const scale_step *step = &scale_steps[i];
    fn_status st;
    /* Only the parameters step takes parameters: every later one reads them from sc_p. */
    int nparams = step->stmt == &plan_parameters ? 3 : 0;
    PGresult *res = db_exec(db, step->stmt, nparams, nparams ? params : NULL, &st);
    if (res == NULL) {
      report_failure(step->table ? step->table : step->stmt->name, st, db);
      return st;
    }
    if (step->table) {
      printf("  %-28s %10s rows %8.2f s\n", step->table, PQcmdTuples(res), seconds_since(&stage));
      fflush(stdout);
      clock_gettime(CLOCK_MONOTONIC, &stage);
    }
    PQclear(res);
  }
  return FN_OK;
}

static void print_counts(db_conn *db) {
  fn_status st;
  PGresult *res = db_exec(db, &count_tables, 0, NULL, &st);
  if (res == NULL) {
    report_failure("counting rows", st, db);
    return;
  }
  printf("\nrows in each table now (count(*)):\n");
  for (int i = 0; i < PQntuples(res); i++)
    printf("  %-28s %10s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
  PQclear(res);
}

static int usage(void) {
  fprintf(stderr,
          "usage: forumnet seed --scale N [--seed S]\n"
          "  N  size, > 0 and <= %.0f (1: 200 sites, 30 000 members, 250 000 meetings; 0.01 for a quick run)\n"
          "  S  seed, an integer 0..%lld (default 1): the same seed gives the same data\n",
          SCALE_MAX, SEED_MAX);
  return 2;
}

static int parse_scale(const char *text, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v <= 0 || v > SCALE_MAX)
    return 0;
  *out = v;
  return 1;
}

static int parse_seed(const char *text, long long *out) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0 || v > SEED_MAX)
    return 0;
  *out = v;
  return 1;
}

/* The login printed at the end: the first manager of the seed's first site. */
static const db_stmt first_manager = {
    "seed_scale_first_manager",
    "SELECT m.email FROM site_managers sm JOIN members m ON m.id = sm.member_id"
    " WHERE sm.site_id = md5('forumnet:' || $1::bigint || ':site:1')::uuid ORDER BY length(m.email), m.email LIMIT 1"};

/* 1 when the database already has this seed's data (its deterministic first site), 0 when not, -1 on error. */
static int seed_present(db_conn *db, const char *seed_text) {
  fn_status st;
  const char *params[] = {seed_text};
  PGresult *res = db_exec(db, &exists_for_seed, 1, params, &st);
  if (res == NULL) {
    report_failure("checking for earlier scale data", st, db);
    return -1;
  }
  int present = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return present;
}

static void print_logins(db_conn *db, const char *seed_text, const char *password) {
  fn_status st;
  const char *params[] = {seed_text};
  PGresult *res = db_exec(db, &first_manager, 1, params, &st);
  printf("\nlogins (every generated member has this password, shown once: %s)\n"
         "  admin     m1.s%s@scale.forumnet.test\n",
         password, seed_text);
  if (res != NULL && PQntuples(res) == 1)
    printf("  manager   %s (site scale-s%s-1)\n", PQgetvalue(res, 0, 0), seed_text);
  printf("  everyone  m<n>.s%s@scale.forumnet.test\n", seed_text);
  PQclear(res);
}

/* The whole run on an open connection; returns the exit status. */
static int generate(cli_context *ctx, long long seed, double scale) {
  struct timespec start, stage;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char seed_text[24], scale_text[32], password[21], hash[PASSWORD_HASH_MAX];
  snprintf(seed_text, sizeof seed_text, "%lld", seed);
  snprintf(scale_text, sizeof scale_text, "%.17g", scale);
  int applied = 0;
  if (db_ping(ctx->db, &applied) != FN_OK || applied < migrate_known_count()) {
    fprintf(stderr, "the database is not migrated: run `forumnet migrate` first\n");
    return 1;
  }
  if (exec_simple(ctx->db, &session_temp_buffers, 0, NULL, "session settings") != FN_OK)
    return 1;
  fn_status st = db_begin(ctx->db);
  if (st != FN_OK) {
    report_failure("begin", st, ctx->db);
    return 1;
  }
  int present = seed_present(ctx->db, seed_text);
  if (present != 0) {
    if (present > 0)
      fprintf(stderr,
              "this database already has scale data for seed %s (site scale-s%s-1); nothing changed.\n"
              "Use another --seed, or a fresh database.\n",
              seed_text, seed_text);
    return 1;
  }
  password_generate(password);
  st = password_hash(password, hash);
  if (st != FN_OK) {
    report_failure("hashing the password", st, ctx->db);
    return 1;
  }
  printf("forumnet seed --scale %g --seed %s\n", scale, seed_text);
  const char *params[3] = {seed_text, hash, scale_text};
  if (run_steps(ctx->db, params) != FN_OK)
    return 1;
  char resource[40];
  snprintf(resource, sizeof resource, "scale-s%s", seed_text);
  char scale_short[32];
  snprintf(scale_short, sizeof scale_short, "%g", scale);
  json_t *details = json_pack("{s:s, s:I}", "scale", scale_short, "seed", (json_int_t)seed);
  clock_gettime(CLOCK_MONOTONIC, &stage);
  st = audit_db_record(ctx->db, &ctx->req.caller, ctx->req.request_id, "seed.scale", "network", resource, details);
  json_decref(details);
  if (st == FN_OK)
    st = db_commit(ctx->db);
  if (st != FN_OK) {
    report_failure("commit", st, ctx->db);
    return 1;
  }
  printf("  %-28s %15s %8.2f s\n", "(commit)", "", seconds_since(&stage));
  clock_gettime(CLOCK_MONOTONIC, &stage);
  if ((st = db_exec_command(ctx->db, &analyze_tables, 0, NULL)) != FN_OK)
    fprintf(stderr, "ANALYZE failed (%s); the data is committed and autovacuum will analyze it\n", fn_status_title(st));
  else
    printf("  %-28s %15s %8.2f s\n", "(analyze)", "", seconds_since(&stage));
  printf("  %-28s %15s %8.2f s\n", "total", "", seconds_since(&start));
  print_counts(ctx->db);
  print_logins(ctx->db, seed_text, password);
  return 0;
}

int seed_scale_main(int argc, char **argv) {
  double scale = 0;
  long long seed = 1;
  int have_scale = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc && !have_scale) {
      if (!parse_scale(argv[++i], &scale))
        return usage();
      have_scale = 1;
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      if (!parse_seed(argv[++i], &seed))
        return usage();
    } else {
      return usage();
    }
  }
  if (!have_scale)
    return usage();
  cli_context ctx;
  int rc = cli_open(&ctx, "seed-scale", 0);
  if (rc != 0)
    return rc;
  rc = generate(&ctx, seed, scale);
  if (rc != 0)
    db_rollback(ctx.db);
  cli_close(&ctx);
  return rc;
}

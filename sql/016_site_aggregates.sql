-- Per-site aggregates for manager summaries (API.md section 8, issue 18): the overview page reads figures the
-- database keeps, in the transaction of every change, instead of counting each site's rows on every request.
--
-- * site_aggregates: one row per site of the figures that do not depend on time (groups by status, active
--   members, practitioners and those in a group). Distinct counts cannot be kept by adding deltas, so the
--   statement-level triggers below recompute the affected sites from scratch (site_aggregates_compute), after
--   locking their rows in site order: the recomputation then sees every change committed before it.
-- * site_figures: per site and UTC hour, day and month, the figures of a time window: meetings (count, sum of
--   attendance rates and how many had a rate, attendance recorded and present), the site's own published events,
--   and its members' going/waitlisted registrations for published events, by the hour, day and month the
--   meeting or event starts. site_theme_figures: meetings per theme, the same buckets. Kept by adding deltas
--   (set-based, one upsert per statement), which concurrent transactions may add in any order. A window reads
--   its whole months from the monthly rows, its other whole days from the daily ones, today's whole hours from
--   the hourly ones; only the hour of now() is counted from the live rows (summaries_figures in
--   src/resources/summaries_db.c).
-- * site_summary_figures_scratch: the figures computed from the live rows only, as the summaries read them
--   before this migration: the reference the tests compare the kept figures with (tests/e2e/e2e_summary_aggregates.c).
-- * site_aggregates_rebuild(): recomputes all of it from the live rows (this migration calls it; so may an
--   operator: SELECT site_aggregates_rebuild();).

-- Indexing and filling the figures of an existing network takes longer than the CLI's statement timeout (about
-- 40 s at seed --scale 1 on 2 cores); this transaction (forumnet migrate runs each file as one) may take its time.
SET LOCAL statement_timeout = 0;

CREATE TABLE site_aggregates (
  site_id                 uuid PRIMARY KEY REFERENCES sites (id),
  groups_forming          integer NOT NULL DEFAULT 0,
  groups_active           integer NOT NULL DEFAULT 0,
  groups_dormant          integer NOT NULL DEFAULT 0,
  groups_closed           integer NOT NULL DEFAULT 0,
  active_members          integer NOT NULL DEFAULT 0,
  practitioners           integer NOT NULL DEFAULT 0,
  practitioners_in_groups integer NOT NULL DEFAULT 0
);

-- span: 'h' an hour, 'd' a day, 'm' a month; bucket: its first instant, UTC (timestamp without time zone).
CREATE TABLE site_figures (
  site_id       uuid NOT NULL,
  span          "char" NOT NULL CHECK (span IN ('h', 'd', 'm')),
  bucket        timestamp NOT NULL,
  held          integer NOT NULL DEFAULT 0,
  rate_sum      numeric NOT NULL DEFAULT 0,
  rated         integer NOT NULL DEFAULT 0,
  recorded      bigint NOT NULL DEFAULT 0,
  present       bigint NOT NULL DEFAULT 0,
  events        integer NOT NULL DEFAULT 0,
  registrations integer NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, span, bucket)
);

-- Themes by number: a window sums a few hundred (theme, count) rows per site, and grouping integers is
-- cheaper than grouping text. Only the ten names shown are looked up.
CREATE TABLE summary_themes (
  id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE
);

CREATE TABLE site_theme_figures (
  site_id  uuid NOT NULL,
  span     "char" NOT NULL CHECK (span IN ('h', 'd', 'm')),
  bucket   timestamp NOT NULL,
  theme_id integer NOT NULL REFERENCES summary_themes (id),
  n        integer NOT NULL DEFAULT 0,
  PRIMARY KEY (site_id, span, bucket, theme_id) INCLUDE (n) -- index-only: a window reads hundreds
);

-- The live rows of the hour of now(): meetings and registrations by their start.
CREATE INDEX meetings_starts ON meetings (starts_at);
CREATE INDEX event_registrations_upcoming_starts ON event_registrations (event_starts_at)
  WHERE status IN ('going', 'waitlisted') AND event_published;

-- ---- the time-independent figures ----

CREATE FUNCTION site_aggregates_compute(ids uuid[])
RETURNS TABLE (site_id uuid, forming bigint, active bigint, dormant bigint, closed bigint, active_members bigint,
               practitioners bigint, in_groups bigint)
LANGUAGE sql STABLE AS $$
  SELECT s.id, gc.forming, gc.active, gc.dormant, gc.closed, am.n, pr.n, pr.in_groups
  FROM unnest(ids) AS s(id)
  CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE g.status = 'forming') AS forming,
      count(*) FILTER (WHERE g.status = 'active') AS active, count(*) FILTER (WHERE g.status = 'dormant') AS dormant,
      count(*) FILTER (WHERE g.status = 'closed') AS closed FROM groups g WHERE g.site_id = s.id) gc
  CROSS JOIN LATERAL (SELECT count(DISTINCT gm.member_id) AS n FROM groups g
      JOIN group_memberships gm ON gm.group_id = g.id AND gm.state = 'active'
      JOIN members mm ON mm.id = gm.member_id AND mm.status = 'active'
      WHERE g.site_id = s.id AND g.status <> 'closed') am
  CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE EXISTS (
        SELECT 1 FROM group_memberships gm JOIN groups gg ON gg.id = gm.group_id
        WHERE gm.member_id = m.id AND gm.state = 'active' AND gg.status <> 'closed')) AS in_groups
      FROM members m WHERE m.home_site_id = s.id AND m.role = 'practitioner' AND m.status = 'active') pr
$$;

-- Recomputes the sites in ids. Locks their rows first, in site order (two transactions changing the same sites
-- wait for each other instead of deadlocking); the UPDATE that follows is a new statement, so under READ
-- COMMITTED it sees whatever the transaction that held the lock committed.
CREATE FUNCTION site_aggregates_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  sites uuid[];
BEGIN
  SELECT array_agg(DISTINCT i ORDER BY i) INTO sites FROM unnest(ids) AS i WHERE i IS NOT NULL;
  IF sites IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO site_aggregates (site_id) SELECT s.id FROM sites s WHERE s.id = ANY (sites) ORDER BY s.id
    ON CONFLICT DO NOTHING;
  PERFORM 1 FROM site_aggregates a WHERE a.site_id = ANY (sites) ORDER BY a.site_id FOR UPDATE;
  UPDATE site_aggregates a SET groups_forming = c.forming, groups_active = c.active, groups_dormant = c.dormant,
      groups_closed = c.closed, active_members = c.active_members, practitioners = c.practitioners,
      practitioners_in_groups = c.in_groups
    FROM site_aggregates_compute(sites) c
    WHERE a.site_id = c.site_id AND (a.groups_forming, a.groups_active, a.groups_dormant, a.groups_closed,
      a.active_members, a.practitioners, a.practitioners_in_groups) IS DISTINCT FROM
      (c.forming::int, c.active::int, c.dormant::int, c.closed::int, c.active_members::int, c.practitioners::int,
       c.in_groups::int);
END $$;

CREATE FUNCTION sites_aggregates_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM site_aggregates_refresh(ARRAY(SELECT id FROM new_rows));
  RETURN NULL;
END $$;
CREATE TRIGGER sites_aggregates AFTER INSERT ON sites REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION sites_aggregates_trigger();

-- A membership counts at its group's site (active members) and at its member's home site (practitioners in a
-- group).
CREATE FUNCTION group_memberships_aggregates_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM site_aggregates_refresh(ARRAY(
      SELECT g.site_id FROM new_rows n JOIN groups g ON g.id = n.group_id WHERE n.state = 'active'
      UNION SELECT m.home_site_id FROM new_rows n JOIN members m ON m.id = n.member_id WHERE n.state = 'active'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM site_aggregates_refresh(ARRAY(
      SELECT g.site_id FROM old_rows o JOIN groups g ON g.id = o.group_id WHERE o.state = 'active'
      UNION SELECT m.home_site_id FROM old_rows o JOIN members m ON m.id = o.member_id WHERE o.state = 'active'));
  ELSE
    PERFORM site_aggregates_refresh(ARRAY(
      WITH c AS (SELECT o.group_id AS og, o.member_id AS om, n.group_id AS ng, n.member_id AS nm
                 FROM old_rows o FULL JOIN new_rows n ON n.group_id = o.group_id AND n.member_id = o.member_id
                 WHERE o.state IS DISTINCT FROM n.state OR o.group_id IS NULL OR n.group_id IS NULL),
           gs AS (SELECT og AS g FROM c UNION SELECT ng FROM c), ms AS (SELECT om AS m FROM c UNION SELECT nm FROM c)
      SELECT g.site_id FROM gs JOIN groups g ON g.id = gs.g
      UNION SELECT m.home_site_id FROM ms JOIN members m ON m.id = ms.m));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER group_memberships_aggregates_ins AFTER INSERT ON group_memberships REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION group_memberships_aggregates_trigger();
CREATE TRIGGER group_memberships_aggregates_upd AFTER UPDATE ON group_memberships
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION group_memberships_aggregates_trigger();
CREATE TRIGGER group_memberships_aggregates_del AFTER DELETE ON group_memberships REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION group_memberships_aggregates_trigger();

-- A group's status counts at its site, and decides whether its active members count at their home sites.
CREATE FUNCTION groups_aggregates_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM site_aggregates_refresh(ARRAY(SELECT site_id FROM new_rows));
  ELSE
    PERFORM site_aggregates_refresh(ARRAY(
      WITH c AS (SELECT o.id, o.site_id AS os, n.site_id AS ns FROM old_rows o JOIN new_rows n ON n.id = o.id
                 WHERE o.status IS DISTINCT FROM n.status OR o.site_id IS DISTINCT FROM n.site_id)
      SELECT os FROM c UNION SELECT ns FROM c
      UNION SELECT m.home_site_id FROM c JOIN group_memberships gm ON gm.group_id = c.id AND gm.state = 'active'
        JOIN members m ON m.id = gm.member_id));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER groups_aggregates_ins AFTER INSERT ON groups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION groups_aggregates_trigger();
CREATE TRIGGER groups_aggregates_upd AFTER UPDATE ON groups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION groups_aggregates_trigger();

-- A member's status, role and home site count at their home sites, old and new, and at their groups' sites.
CREATE FUNCTION members_aggregates_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM site_aggregates_refresh(ARRAY(SELECT home_site_id FROM new_rows
                                          WHERE role = 'practitioner' AND status = 'active'));
    RETURN NULL;
  END IF;
  PERFORM site_aggregates_refresh(ARRAY(
    WITH c AS (SELECT o.id, o.home_site_id AS os, n.home_site_id AS ns FROM old_rows o JOIN new_rows n ON n.id = o.id
               WHERE (o.status, o.role, o.home_site_id) IS DISTINCT FROM (n.status, n.role, n.home_site_id))
    SELECT os FROM c UNION SELECT ns FROM c
    UNION SELECT g.site_id FROM c JOIN group_memberships gm ON gm.member_id = c.id AND gm.state = 'active'
      JOIN groups g ON g.id = gm.group_id));
  -- Registrations count at the member's home site: a move takes them along.
  PERFORM site_figures_apply(ARRAY(
    SELECT ROW(s.site, r.event_starts_at, 0, NULL, 0, 0, 0, 0, s.sign)::site_figure_delta
    FROM old_rows o JOIN new_rows n ON n.id = o.id AND o.home_site_id IS DISTINCT FROM n.home_site_id
    CROSS JOIN LATERAL (VALUES (o.home_site_id, -1), (n.home_site_id, 1)) AS s(site, sign)
    JOIN event_registrations r ON r.member_id = n.id AND r.status IN ('going', 'waitlisted') AND r.event_published
    WHERE s.site IS NOT NULL));
  RETURN NULL;
END $$;

-- ---- the figures of a time window ----

CREATE TYPE site_figure_delta AS (site_id uuid, at timestamptz, held integer, rate numeric, rated integer,
                                  recorded bigint, present bigint, events integer, registrations integer);
CREATE TYPE site_theme_delta AS (site_id uuid, at timestamptz, theme text, n integer);

-- Adds deltas to their hour's, day's and month's rows (UTC), one upsert in key order.
CREATE FUNCTION site_figures_apply(d site_figure_delta[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO site_figures AS f (site_id, span, bucket, held, rate_sum, rated, recorded, present, events,
                                 registrations)
  SELECT x.site_id, b.span, b.bucket, sum(x.held), coalesce(sum(x.rate), 0), sum(x.rated), sum(x.recorded),
         sum(x.present), sum(x.events), sum(x.registrations)
  FROM unnest(d) AS x
  CROSS JOIN LATERAL (VALUES ('h'::"char", date_trunc('hour', x.at AT TIME ZONE 'UTC')),
                             ('d', date_trunc('day', x.at AT TIME ZONE 'UTC')),
                             ('m', date_trunc('month', x.at AT TIME ZONE 'UTC'))) AS b(span, bucket)
  GROUP BY 1, 2, 3
  HAVING (sum(x.held), coalesce(sum(x.rate), 0), sum(x.rated), sum(x.recorded), sum(x.present), sum(x.events),
          sum(x.registrations)) <> (0, 0, 0, 0, 0, 0, 0)
  ORDER BY 1, 2, 3
  ON CONFLICT (site_id, span, bucket) DO UPDATE SET held = f.held + excluded.held,
    rate_sum = f.rate_sum + excluded.rate_sum, rated = f.rated + excluded.rated,
    recorded = f.recorded + excluded.recorded, present = f.present + excluded.present,
    events = f.events + excluded.events, registrations = f.registrations + excluded.registrations
$$;

CREATE FUNCTION site_themes_apply(d site_theme_delta[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO summary_themes (name) SELECT DISTINCT x.theme FROM unnest(d) AS x ORDER BY 1 ON CONFLICT DO NOTHING;
  INSERT INTO site_theme_figures AS f (site_id, span, bucket, theme_id, n)
  SELECT x.site_id, b.span, b.bucket, st.id, sum(x.n)
  FROM unnest(d) AS x JOIN summary_themes st ON st.name = x.theme
  CROSS JOIN LATERAL (VALUES ('h'::"char", date_trunc('hour', x.at AT TIME ZONE 'UTC')),
                             ('d', date_trunc('day', x.at AT TIME ZONE 'UTC')),
                             ('m', date_trunc('month', x.at AT TIME ZONE 'UTC'))) AS b(span, bucket)
  GROUP BY 1, 2, 3, 4 HAVING sum(x.n) <> 0
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (site_id, span, bucket, theme_id) DO UPDATE SET n = f.n + excluded.n
$$;

CREATE TRIGGER members_aggregates_ins AFTER INSERT ON members REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_aggregates_trigger();
CREATE TRIGGER members_aggregates_upd AFTER UPDATE ON members REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION members_aggregates_trigger();

-- The statement-level trigger of meetings, event_sites and event_registrations: the rows a statement removed
-- count -1, the rows it added +1 (an update both; what did not change adds up to nothing and is not written).
-- TG_ARGV[0] names the function that turns the table's rows into figures.
CREATE FUNCTION site_figures_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    EXECUTE format('SELECT %I(ARRAY(SELECT o::%I FROM old_rows o), -1)', TG_ARGV[0], TG_TABLE_NAME);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE format('SELECT %I(ARRAY(SELECT n::%I FROM new_rows n), 1)', TG_ARGV[0], TG_TABLE_NAME);
  END IF;
  RETURN NULL;
END $$;

-- A meeting counts at its group's site, on the day it starts.
CREATE FUNCTION meetings_figures(rows meetings[], sign integer) RETURNS void LANGUAGE sql AS $$
  SELECT site_figures_apply(ARRAY(
    SELECT ROW(g.site_id, m.starts_at, sign, sign * (m.present_count::numeric / nullif(m.attendance_count, 0)),
               sign * (m.attendance_count > 0)::int, sign * m.attendance_count, sign * m.present_count, 0,
               0)::site_figure_delta
    FROM unnest(rows) AS m JOIN groups g ON g.id = m.group_id WHERE g.site_id IS NOT NULL));
  SELECT site_themes_apply(ARRAY(
    SELECT ROW(g.site_id, m.starts_at, t.theme, sign)::site_theme_delta
    FROM unnest(rows) AS m JOIN groups g ON g.id = m.group_id CROSS JOIN LATERAL unnest(m.themes) AS t(theme)
    WHERE g.site_id IS NOT NULL));
$$;

CREATE TRIGGER meetings_figures_ins AFTER INSERT ON meetings REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('meetings_figures');
CREATE TRIGGER meetings_figures_upd AFTER UPDATE ON meetings REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('meetings_figures');
CREATE TRIGGER meetings_figures_del AFTER DELETE ON meetings REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('meetings_figures');

-- A published event that is not network-wide counts at each of its sites, on the day it starts.
CREATE FUNCTION event_sites_figures(rows event_sites[], sign integer) RETURNS void LANGUAGE sql AS $$
  SELECT site_figures_apply(ARRAY(
    SELECT ROW(es.site_id, e.starts_at, 0, NULL, 0, 0, 0, sign, 0)::site_figure_delta
    FROM unnest(rows) AS es JOIN events e ON e.id = es.event_id AND e.status = 'published' AND NOT e.network_wide))
$$;

CREATE TRIGGER event_sites_figures_ins AFTER INSERT ON event_sites REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('event_sites_figures');
CREATE TRIGGER event_sites_figures_upd AFTER UPDATE ON event_sites REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('event_sites_figures');
CREATE TRIGGER event_sites_figures_del AFTER DELETE ON event_sites REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('event_sites_figures');

-- An event's start, status or reach moves its count at its sites. (Its registrations follow through the
-- events_starts_changed trigger of sql/005_summaries.sql, which updates them.)
CREATE FUNCTION events_figures_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM site_figures_apply(ARRAY(
    SELECT ROW(es.site_id, x.starts_at, 0, NULL, 0, 0, 0, x.sign, 0)::site_figure_delta
    FROM old_rows o JOIN new_rows n ON n.id = o.id
    CROSS JOIN LATERAL (VALUES (o.starts_at, -1, o.status = 'published' AND NOT o.network_wide),
                               (n.starts_at, 1, n.status = 'published' AND NOT n.network_wide)) AS x(starts_at, sign, counts)
    JOIN event_sites es ON es.event_id = n.id
    WHERE x.counts AND (o.starts_at, o.status, o.network_wide) IS DISTINCT FROM (n.starts_at, n.status, n.network_wide)));
  RETURN NULL;
END $$;
CREATE TRIGGER events_figures_upd AFTER UPDATE ON events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION events_figures_trigger();

-- A going or waitlisted registration for a published event counts at its member's home site, on the day the
-- event starts.
CREATE FUNCTION registrations_figures(rows event_registrations[], sign integer) RETURNS void LANGUAGE sql AS $$
  SELECT site_figures_apply(ARRAY(
    SELECT ROW(m.home_site_id, r.event_starts_at, 0, NULL, 0, 0, 0, 0, sign)::site_figure_delta
    FROM unnest(rows) AS r JOIN members m ON m.id = r.member_id
    WHERE r.status IN ('going', 'waitlisted') AND r.event_published AND m.home_site_id IS NOT NULL))
$$;

CREATE TRIGGER event_registrations_figures_ins AFTER INSERT ON event_registrations REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('registrations_figures');
CREATE TRIGGER event_registrations_figures_upd AFTER UPDATE ON event_registrations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('registrations_figures');
CREATE TRIGGER event_registrations_figures_del AFTER DELETE ON event_registrations REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION site_figures_trigger('registrations_figures');

-- ---- from scratch ----

-- The figures of the sites in ids (a JSON array of UUIDs, in that order) computed from the live rows only, the
-- statement the summaries ran before this migration (its groups, members and practitioners are
-- site_aggregates_compute, the same subqueries): what the kept figures must equal (the tests compare them).
CREATE FUNCTION site_summary_figures_scratch(ids json, from_at timestamptz, to_at timestamptz, threshold integer)
RETURNS TABLE (id uuid, name text, groups_forming bigint, groups_active bigint, groups_dormant bigint,
               groups_closed bigint, active_members bigint, practitioners bigint, practitioners_in_groups bigint,
               meetings_held bigint, attendance_rate numeric, attendance_recorded bigint, attendance_present bigint,
               consultations_open bigint, consultations_closed bigint, groups_targeted bigint, groups_submitted bigint,
               upcoming_events bigint, upcoming_registrations bigint, themes json)
LANGUAGE sql STABLE AS $$
  SELECT s.id, si.name, ag.forming, ag.active, ag.dormant, ag.closed, ag.active_members, ag.practitioners,
    ag.in_groups, mt.held,
    round(mt.rate, 3), mt.recorded, mt.present, cc.open, cc.closed, rr.targeted, rr.submitted,
    (SELECT count(*) FROM events e WHERE e.status = 'published' AND e.starts_at >= now() AND e.network_wide) + ev.n,
    er.n, coalesce(th.themes, '[]'::json)
  FROM json_array_elements_text(ids) WITH ORDINALITY AS t(x, n)
  CROSS JOIN LATERAL (SELECT t.x::uuid AS id) s
  JOIN sites si ON si.id = s.id
  CROSS JOIN LATERAL site_aggregates_compute(ARRAY[s.id]) ag -- groups, members, practitioners
  CROSS JOIN LATERAL (SELECT count(*) AS held,
        avg(x.present_count::numeric / nullif(x.attendance_count, 0)) AS rate,
        coalesce(sum(x.attendance_count), 0) AS recorded, coalesce(sum(x.present_count), 0) AS present
      FROM groups g JOIN meetings x ON x.group_id = g.id
        AND x.starts_at >= from_at AND x.starts_at < least(to_at, now())
      WHERE g.site_id = s.id) mt
  CROSS JOIN LATERAL (SELECT json_agg(json_build_object('theme', z.theme, 'meetings', z.n)
        ORDER BY z.n DESC, z.theme) AS themes
      FROM (SELECT tt.theme, count(*) AS n FROM groups g JOIN meetings x ON x.group_id = g.id
              AND x.starts_at >= from_at AND x.starts_at < least(to_at, now())
            CROSS JOIN LATERAL unnest(x.themes) AS tt(theme)
            WHERE g.site_id = s.id GROUP BY tt.theme HAVING count(*) >= threshold
            ORDER BY count(*) DESC, tt.theme LIMIT 10) z) th
  CROSS JOIN LATERAL (SELECT array_agg(k.id) AS ids,
        count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) = 'open') AS open,
        count(*) FILTER (WHERE consultation_status(k.status, k.closes_at) IN ('closed', 'outcome_published'))
          AS closed
      FROM consultations k
      WHERE k.status <> 'draft' AND k.opens_at < to_at AND k.closes_at >= from_at
        AND (k.id IN (SELECT ts.consultation_id FROM consultation_target_sites ts WHERE ts.site_id = s.id)
             OR k.id IN (SELECT tg.consultation_id FROM consultation_target_groups tg
                         JOIN groups gg ON gg.id = tg.group_id WHERE gg.site_id = s.id))) cc
  CROSS JOIN LATERAL (SELECT count(*) AS targeted, count(r.group_id) AS submitted
      FROM unnest(cc.ids) AS k(id) CROSS JOIN LATERAL consultation_targeted_groups(k.id) AS tg(group_id)
      JOIN groups gg ON gg.id = tg.group_id AND gg.site_id = s.id
      LEFT JOIN consultation_responses r ON r.consultation_id = k.id AND r.group_id = gg.id
        AND r.status = 'submitted') rr
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM event_sites es JOIN events e ON e.id = es.event_id
      WHERE es.site_id = s.id AND e.status = 'published' AND e.starts_at >= now() AND NOT e.network_wide) ev
  CROSS JOIN LATERAL (SELECT count(*) AS n FROM members m
      JOIN event_registrations r ON r.member_id = m.id AND r.status IN ('going', 'waitlisted')
        AND r.event_starts_at >= now() AND r.event_published
      WHERE m.home_site_id = s.id) er
  ORDER BY t.n
$$;

-- Recomputes every kept figure from the live rows. Writers wait meanwhile (their triggers add to these
-- tables); their deltas, added after, apply to what this computed without them. wait => false: fail at once
-- (lock_not_available) rather than wait for a writer, so that it can never be part of a deadlock while busy
-- writers run (the tests rebuild while other suites write).
CREATE FUNCTION site_aggregates_rebuild(wait boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF wait THEN
    LOCK TABLE site_aggregates, site_figures, site_theme_figures IN EXCLUSIVE MODE;
  ELSE
    LOCK TABLE site_aggregates, site_figures, site_theme_figures IN EXCLUSIVE MODE NOWAIT;
  END IF;
  DELETE FROM site_aggregates;
  DELETE FROM site_figures;
  DELETE FROM site_theme_figures;
  PERFORM site_aggregates_refresh(ARRAY(SELECT id FROM sites));
  PERFORM meetings_figures(ARRAY(SELECT m FROM meetings m), 1);
  PERFORM event_sites_figures(ARRAY(SELECT es FROM event_sites es), 1);
  PERFORM registrations_figures(ARRAY(SELECT r FROM event_registrations r), 1);
END $$;

SELECT site_aggregates_rebuild();

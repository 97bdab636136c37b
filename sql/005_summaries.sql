-- Manager summaries (API.md section 8): what they read must stay cheap at national scale.

-- Attendance counts kept on the meeting by the attendance PUT (same transaction), so mean
-- attendance rates read one row per meeting instead of every attendance row.
ALTER TABLE meetings ADD COLUMN present_count integer NOT NULL DEFAULT 0;
ALTER TABLE meetings ADD COLUMN attendance_count integer NOT NULL DEFAULT 0;
UPDATE meetings m SET present_count = a.present, attendance_count = a.recorded
FROM (SELECT meeting_id, count(*) FILTER (WHERE status = 'present') AS present, count(*) AS recorded
      FROM meeting_attendance GROUP BY meeting_id) a
WHERE a.meeting_id = m.id;

-- Summaries count practitioners per home site by role.
CREATE INDEX members_home_site_role ON members (home_site_id, role) WHERE status = 'active';
-- Meetings of a group within a time window.
CREATE INDEX meetings_group_starts_counts ON meetings (group_id, starts_at) INCLUDE (present_count, attendance_count);
-- Active memberships by member (who is in at least one group).
CREATE INDEX group_memberships_active_member ON group_memberships (member_id) WHERE state = 'active';
-- Upcoming published events and their registrations.
CREATE INDEX events_published_starts ON events (starts_at) WHERE status = 'published';
-- Registrations by the members of a site (upcoming-event registrations in summaries).
CREATE INDEX event_registrations_member ON event_registrations (member_id, status) INCLUDE (event_id);

-- Summaries count the registrations of a site's members for upcoming events. Reading every
-- registration of those members (past ones included) cost ~2 ms per site at national scale, so each
-- registration carries its event's start, kept right by the two triggers below (in the database,
-- so no code path can forget it), and a partial index serves "upcoming, going or waitlisted".
ALTER TABLE event_registrations ADD COLUMN event_starts_at timestamptz;
ALTER TABLE event_registrations ADD COLUMN event_published boolean;
UPDATE event_registrations r SET event_starts_at = e.starts_at, event_published = e.status = 'published'
FROM events e WHERE e.id = r.event_id;
ALTER TABLE event_registrations ALTER COLUMN event_starts_at SET NOT NULL;
ALTER TABLE event_registrations ALTER COLUMN event_published SET NOT NULL;

CREATE FUNCTION event_registrations_set_starts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT starts_at, status = 'published' INTO NEW.event_starts_at, NEW.event_published
  FROM events WHERE id = NEW.event_id;
  RETURN NEW;
END $$;
CREATE TRIGGER event_registrations_starts BEFORE INSERT ON event_registrations
  FOR EACH ROW EXECUTE FUNCTION event_registrations_set_starts();

CREATE FUNCTION events_propagate_starts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE event_registrations SET event_starts_at = NEW.starts_at, event_published = NEW.status = 'published'
  WHERE event_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER events_starts_changed AFTER UPDATE OF starts_at, status ON events
  FOR EACH ROW WHEN (OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION events_propagate_starts();

DROP INDEX event_registrations_member;
-- Published too: checking each event's status was 45% of an overview page (tests/bench/README.md).
CREATE INDEX event_registrations_member_upcoming ON event_registrations (member_id, event_starts_at)
  WHERE status IN ('going', 'waitlisted') AND event_published;
-- Network-wide upcoming events, counted once per summary request.
CREATE INDEX events_network_upcoming ON events (starts_at) WHERE status = 'published' AND network_wide;

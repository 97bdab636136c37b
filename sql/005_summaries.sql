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

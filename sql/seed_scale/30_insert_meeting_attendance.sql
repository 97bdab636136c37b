INSERT INTO meeting_attendance (meeting_id, member_id, status, recorded_at)
SELECT meeting_id, mid, status, recorded_at FROM sc_attendance;

ANALYZE sc_ms, sc_meeting;

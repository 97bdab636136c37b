ANALYZE sc_event;

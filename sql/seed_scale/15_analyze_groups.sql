ANALYZE sc_group;

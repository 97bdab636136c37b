ANALYZE sc_gm;

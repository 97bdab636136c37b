ANALYZE sc_p;

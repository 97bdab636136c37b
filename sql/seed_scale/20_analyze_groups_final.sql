ANALYZE sc_gfin;

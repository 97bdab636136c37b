ANALYZE sc_cons;

ANALYZE sc_site;

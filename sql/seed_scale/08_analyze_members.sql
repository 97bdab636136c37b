ANALYZE sc_member;

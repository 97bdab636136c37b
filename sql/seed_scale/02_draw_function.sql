-- A uniform draw in [0, 1) from (seed, purpose, key); SQL, so PostgreSQL inlines it.
CREATE FUNCTION pg_temp.u(seed bigint, purpose int, k bigint) RETURNS float8
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (hashint8extended(k, seed * 1000 + purpose) & 9007199254740991)::float8 / 9007199254740992.0 $$;

-- PROTOTYPE (bench only): gx_entry_digest is declared IMMUTABLE but calls STABLE functions
-- (to_char, concat_ws, convert_to), so PostgreSQL never inlines it: every INSERT that calls
-- it parses, analyses and plans its body again (SQL functions keep no plan between
-- statements). Declared STABLE, which is what it is, it is inlined into the caller's cached
-- plan. Same result, byte for byte.
ALTER FUNCTION gx_entry_digest(bigint, text, text, text, text, text, text, text, bigint, timestamptz, text, text) STABLE;

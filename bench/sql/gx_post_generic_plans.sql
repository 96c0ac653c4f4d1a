-- PROTOTYPE (bench only): PL/pgSQL re-plans a statement on every call while its custom
-- plan looks cheaper than the generic one; with array and jsonb arguments (whose sizes
-- the custom plan sees) that is every call. A generic plan is made once per session.
ALTER FUNCTION gx_post(text, text, text, text, text, text, text, bigint, jsonb, jsonb) SET plan_cache_mode = force_generic_plan;

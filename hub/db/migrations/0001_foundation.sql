-- 0001: the foundation. Runs as gx_owner (the schema owner); the hub's working role
-- gx_app gets only the rights it needs, table by table, here and in later migrations.

-- Tables created from now on by gx_owner are readable and writable by gx_app unless a
-- later migration takes a right away (e.g. UPDATE/DELETE on the journal).
ALTER DEFAULT PRIVILEGES FOR ROLE gx_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gx_app;
ALTER DEFAULT PRIVILEGES FOR ROLE gx_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO gx_app;
GRANT USAGE ON SCHEMA public TO gx_app;
GRANT SELECT ON schema_migrations TO gx_app;

-- Every start and stop of a hubd process: who ran, which version, for how long.
CREATE TABLE hub_instances (
  instance_id  text PRIMARY KEY,
  version      text NOT NULL,
  host         text NOT NULL,
  pid          integer NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz,
  stop_reason  text
);

-- The least-privilege role loadstar needs, run once by an administrator in the
-- warehouse database after `loadstar init-db` (which creates the ledger).
-- Adjust the role name, the password and the warehouse schema (public here).

CREATE ROLE loadstar_loader LOGIN;  -- PASSWORD '…', or IAM authentication on RDS

-- CONNECT and TEMPORARY (for its staging tables) come with PUBLIC's defaults;
-- grant them on the database if those were revoked.

-- The warehouse: read the catalogue, load rows, upsert dimensions.
GRANT USAGE ON SCHEMA public TO loadstar_loader;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO loadstar_loader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO loadstar_loader;

-- Its own ledger.
GRANT USAGE ON SCHEMA loadstar TO loadstar_loader;
GRANT SELECT, INSERT, UPDATE ON loadstar.load_ledger, loadstar.key_versions,
    loadstar.table_state TO loadstar_loader;

-- Optional, PostgreSQL 15+: lets loadstar check a file's foreign keys once
-- per key instead of once per row (about 7x faster into the star schema).
-- GRANT SET ON PARAMETER session_replication_role TO loadstar_loader;

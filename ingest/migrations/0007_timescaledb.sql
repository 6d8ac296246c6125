-- TimescaleDB, when the server can load it; everything also runs on plain PostgreSQL.
--
-- telecare.timescaledb (set for this transaction by ingest/migrate.py; unset means auto):
--   auto     create the extension when the server offers it and preloads its library
--   require  the same, but fail when it cannot
--   off      never create it
-- "Offers" is pg_available_extensions. "Preloads" must be checked before trying, because
-- CREATE EXTENSION timescaledb without the library in shared_preload_libraries ends the
-- session with FATAL (timescale/timescaledb issues 562, 1849, 6809). Only superusers and
-- members of pg_read_all_settings can read that setting; for anyone else the extension
-- counts as not preloaded unless a superuser has already created it in this database.
-- Whatever happens here, the migration is recorded: a later switch to TimescaleDB is an
-- operator's job (create the extension, then apply 0008's statements by hand).
DO $$
DECLARE
    mode text := coalesce(nullif(current_setting('telecare.timescaledb', true), ''), 'auto');
    usable boolean;
BEGIN
    IF mode NOT IN ('auto', 'require', 'off') THEN
        RAISE EXCEPTION 'telecare.timescaledb must be auto, require or off, not %', mode;
    END IF;
    IF mode = 'off' THEN
        RAISE NOTICE 'TimescaleDB switched off: readings stay a plain table';
        RETURN;
    END IF;
    usable := EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb')
        OR (EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb')
            AND EXISTS (SELECT FROM pg_settings WHERE name = 'shared_preload_libraries'
                        AND setting ~ '(^|[\s,])"?timescaledb"?($|[\s,])'));
    IF usable THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
    ELSIF mode = 'require' THEN
        RAISE EXCEPTION 'TimescaleDB is required but this server cannot load it'
            USING HINT = 'Install the timescaledb extension, add it to shared_preload_libraries, '
                         'and migrate as a superuser or a member of pg_read_all_settings.';
    ELSE
        RAISE NOTICE 'TimescaleDB not available: readings stay a plain table';
    END IF;
END $$;

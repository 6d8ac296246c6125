-- With TimescaleDB (0007 created the extension): readings become a hypertable with
-- compression, optional retention and a 15-minute continuous aggregate for charts.
-- Without it this migration changes nothing and the api queries raw rows.
--
-- Settings (set for this transaction by ingest/migrate.py; unset means the default):
--   telecare.compress_after  interval after which chunks are compressed; 'off' for never.
--                            Default 7 days.
--   telecare.drop_after      interval after which chunks are dropped; 'off' (the default)
--                            keeps readings forever.
-- They take effect when this migration runs; change them later with TimescaleDB's own
-- remove_*_policy / add_*_policy functions (or a new migration).
--
-- Choices, with their sources (reference: perf.md 1.2 and 1.3, floors.md 3.1-3.3):
-- * 1-day chunks, as measured in floors.md 3.1 (a day of one region's readings fits in
--   memory with its indexes, TimescaleDB's sizing rule).
-- * Compression segmented by (device_id, kind) and ordered by measured_at: the key columns,
--   so ON CONFLICT on compressed chunks (TimescaleDB >= 2.11) finds its batch by segment.
-- * The aggregate is real-time (materialized_only = false; the default is true since
--   TimescaleDB 2.13), so charts include the latest, not yet materialized bucket. Alert
--   rules never read it: they read raw readings.
-- * The refresh policy leaves out the newest bucket (end_offset = one bucket, as the
--   TimescaleDB docs recommend) and looks back 30 days, so readings that arrive late from
--   a gateway's outbox are aggregated too; never further back than retention keeps data.
DO $$
DECLARE
    v_compress_after interval := CASE coalesce(current_setting('telecare.compress_after', true), '')
        WHEN '' THEN INTERVAL '7 days' WHEN 'off' THEN NULL
        ELSE current_setting('telecare.compress_after')::interval END;
    v_drop_after interval := CASE coalesce(current_setting('telecare.drop_after', true), '')
        WHEN '' THEN NULL WHEN 'off' THEN NULL
        ELSE current_setting('telecare.drop_after')::interval END;
    v_refresh_window interval := INTERVAL '30 days';
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;

    PERFORM create_hypertable('readings', 'measured_at',
        chunk_time_interval => INTERVAL '1 day', migrate_data => true);

    IF v_compress_after IS NOT NULL THEN
        ALTER TABLE readings SET (
            timescaledb.compress,
            timescaledb.compress_segmentby = 'device_id, kind',
            timescaledb.compress_orderby = 'measured_at DESC'
        );
        PERFORM add_compression_policy('readings', compress_after => v_compress_after);
    END IF;

    IF v_drop_after IS NOT NULL THEN
        PERFORM add_retention_policy('readings', drop_after => v_drop_after);
        v_refresh_window := least(v_refresh_window, v_drop_after);
    END IF;

    -- WITH NO DATA: creating it WITH DATA cannot run inside a transaction (PR 2389).
    CREATE MATERIALIZED VIEW readings_15m
        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
    SELECT time_bucket(INTERVAL '15 minutes', measured_at) AS bucket,
           patient_id,
           kind,
           min(value) AS min_value,
           avg(value) AS avg_value,
           max(value) AS max_value,
           count(value) AS reading_count
    FROM readings
    GROUP BY bucket, patient_id, kind
    WITH NO DATA;

    PERFORM add_continuous_aggregate_policy('readings_15m',
        start_offset => v_refresh_window,
        end_offset => INTERVAL '15 minutes',
        schedule_interval => INTERVAL '15 minutes');
END $$;

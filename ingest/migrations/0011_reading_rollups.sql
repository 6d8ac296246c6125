-- Chart rollups on plain PostgreSQL: what TimescaleDB's readings_15m gives, kept by hand.
--
-- A 30-day chart of a 1 Hz oximeter aggregates 2.6 million rows per kind; on plain
-- PostgreSQL that takes seconds, against the api's target of 150 ms (issue "Clinician
-- and fleet API", benchmark). Where TimescaleDB is in use (0008 made readings a
-- hypertable with the continuous aggregate readings_15m) this migration does nothing:
-- hypertables do not support transition tables in triggers.
--
-- Otherwise reading_rollups_15m keeps min, max, sum and count per patient, kind and
-- 15-minute bucket (aligned like time_bucket: on multiples of 15 minutes). A statement-
-- level trigger folds each INSERT's new rows into it: one grouped upsert per statement,
-- whatever the batch size, and only rows actually inserted (a replay that ON CONFLICT
-- skips adds nothing). Merging is exact for min, max, sum and count, so late readings
-- from a gateway's outbox land in their bucket like any other. Readings are never
-- updated or deleted by the application; a manual change to them must rebuild the rows
-- of its buckets. Rows lock in key order, so concurrent ingest processes cannot deadlock.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;

    CREATE TABLE reading_rollups_15m (
        patient_id     bigint NOT NULL,
        kind           text NOT NULL CHECK (kind = ANY (reading_kinds())),
        bucket         timestamptz NOT NULL,
        min_value      double precision NOT NULL,
        max_value      double precision NOT NULL,
        sum_value      double precision NOT NULL,
        reading_count  bigint NOT NULL CHECK (reading_count > 0),
        PRIMARY KEY (patient_id, kind, bucket)
    );

    CREATE FUNCTION reading_rollups_fold() RETURNS trigger LANGUAGE plpgsql AS $fold$
    BEGIN
        INSERT INTO reading_rollups_15m AS r
            (patient_id, kind, bucket, min_value, max_value, sum_value, reading_count)
        SELECT patient_id, kind,
               date_bin(interval '15 minutes', measured_at, timestamptz '2000-01-01 00:00+00'),
               min(value), max(value), sum(value), count(value)
        FROM inserted
        WHERE patient_id IS NOT NULL AND value IS NOT NULL
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (patient_id, kind, bucket) DO UPDATE SET
            min_value = least(r.min_value, excluded.min_value),
            max_value = greatest(r.max_value, excluded.max_value),
            sum_value = r.sum_value + excluded.sum_value,
            reading_count = r.reading_count + excluded.reading_count;
        RETURN NULL;
    END $fold$;

    CREATE TRIGGER reading_rollups_fold AFTER INSERT ON readings
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION reading_rollups_fold();

    INSERT INTO reading_rollups_15m
        (patient_id, kind, bucket, min_value, max_value, sum_value, reading_count)
    SELECT patient_id, kind,
           date_bin(interval '15 minutes', measured_at, timestamptz '2000-01-01 00:00+00'),
           min(value), max(value), sum(value), count(value)
    FROM readings
    WHERE patient_id IS NOT NULL AND value IS NOT NULL
    GROUP BY 1, 2, 3;
END $$;

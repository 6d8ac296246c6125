-- Reviews of a patient's measurements: "acknowledge all green" (OpenTele's "Kvittér for
-- alle grønne", reference clinical.md 1.7). A nurse or clinician marks, from the worklist,
-- every patient without an open clinical alert as reviewed: their spot measurements
-- received up to reviewed_up_to have been seen. One row per review, never updated, so the
-- history of who reviewed what and when is kept; the newest reviewed_up_to of a patient is
-- where their unreviewed measurements begin (api/queries/reviews.py).
CREATE TABLE patient_reviews (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id      bigint NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- The received_at of the newest measurement the review covers.
    reviewed_up_to  timestamptz NOT NULL,
    reviewed_by     bigint NOT NULL REFERENCES users (id),
    reviewed_at     timestamptz NOT NULL DEFAULT now(),
    -- Spot measurements newly covered (one per device and instant).
    measurements    integer NOT NULL CHECK (measurements > 0)
);
CREATE INDEX patient_reviews_patient ON patient_reviews (patient_id, reviewed_up_to DESC);

-- Unreviewed spot measurements per patient, counted by arrival: a reading delivered late
-- from a gateway's outbox is new to the care team whenever it was measured. Continuous
-- samples are left out of the index (and the count): they are read as oximetry nights,
-- and at 1 Hz they would dominate the index's size and ingest's insert cost.
CREATE INDEX readings_patient_received ON readings (patient_id, received_at)
    WHERE patient_id IS NOT NULL AND NOT continuous;

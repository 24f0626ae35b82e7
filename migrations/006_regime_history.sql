-- One row per evaluated grid point of the semáforo (DESIGN.md section 5,
-- docs/semaforo.md). run_candidate / run_start are the confirmation clock as
-- it stands after the point, so a restart or a replay that continues from a
-- stored row decides flips exactly as an uninterrupted run would.

CREATE TABLE regime_history (
    ts             timestamptz PRIMARY KEY,
    raw            double precision NOT NULL,
    smoothed       double precision NOT NULL,
    score          double precision NOT NULL CHECK (score >= 0 AND score <= 100),
    gl             double precision,
    cn             double precision,
    mp             double precision,
    candidate      text NOT NULL CHECK (candidate IN ('verde', 'amarillo', 'rojo')),
    state          text NOT NULL CHECK (state IN ('verde', 'amarillo', 'rojo')),
    flip           boolean NOT NULL,
    flip_from      text CHECK (flip_from IN ('verde', 'amarillo', 'rojo')),
    confidence     double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    run_candidate  text NOT NULL CHECK (run_candidate IN ('verde', 'amarillo', 'rojo')),
    run_start      timestamptz NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (flip = (flip_from IS NOT NULL))
);

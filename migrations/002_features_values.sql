-- Bitemporal points: (feature_id, entity, ts, available_at). ts is when the
-- value refers to, available_at when it became known; a later available_at for
-- the same (feature_id, entity, ts) is a revision and every revision is kept.
-- Daily RANGE partitions on ts; retention drops whole partitions.

CREATE TABLE features_values (
    feature_id    text NOT NULL,
    entity        text NOT NULL DEFAULT '',
    ts            timestamptz NOT NULL,
    available_at  timestamptz NOT NULL,
    value         double precision NOT NULL,
    confidence    double precision NOT NULL DEFAULT 1 CHECK (confidence >= 0 AND confidence <= 1),
    meta          jsonb,
    evidence      jsonb,
    inserted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feature_id, entity, ts, available_at),
    CHECK (value = value AND value <> 'Infinity'::float8 AND value <> '-Infinity'::float8)
) PARTITION BY RANGE (ts);

CREATE INDEX features_values_series_ts_idx ON features_values (feature_id, entity, ts DESC);

-- One partition per UTC day, named features_values_pYYYYMMDD. Idempotent, so
-- writers call it for any date they are about to write (backfills since 2015).
CREATE FUNCTION lav_ensure_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    name text := format('features_values_p%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
    IF to_regclass(name) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF features_values FOR VALUES FROM (%L) TO (%L)',
                           name, lo, hi);
        EXCEPTION WHEN duplicate_table THEN
            NULL; -- a concurrent writer created it first
        END;
    END IF;
    RETURN name;
END $$;

CREATE FUNCTION lav_ensure_partitions(first_day date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    i integer;
BEGIN
    FOR i IN 0 .. days - 1 LOOP
        PERFORM lav_ensure_partition(first_day + i);
    END LOOP;
    RETURN days;
END $$;

-- Drops partitions whose whole day is older than the cut-off; returns how many.
CREATE FUNCTION lav_drop_partitions_before(cutoff date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    n integer := 0;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = 'features_values'
          AND c.relname ~ '^features_values_p[0-9]{8}$'
          AND to_date(substr(c.relname, 18), 'YYYYMMDD') < cutoff
    LOOP
        EXECUTE format('DROP TABLE %I', r.relname);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- Writers other than lavd (an ETL job, psql) reach subscribers through
-- NOTIFY. One notification per statement keeps COPY-sized loads cheap: the
-- payload names the series touched (up to 7000 bytes) and who wrote them, so
-- lavd can skip its own writes and refresh the rest.
CREATE FUNCTION lav_notify_points() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    series jsonb;
    n bigint;
    payload text;
BEGIN
    SELECT count(*) INTO n FROM new_rows;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(jsonb_agg(jsonb_build_array(feature_id, entity)), '[]'::jsonb)
      INTO series
      FROM (SELECT DISTINCT feature_id, entity FROM new_rows LIMIT 200) s;
    payload := jsonb_build_object('app', current_setting('application_name'),
                                  'n', n, 'series', series)::text;
    IF octet_length(payload) > 7000 THEN
        payload := jsonb_build_object('app', current_setting('application_name'),
                                      'n', n, 'series', NULL)::text;
    END IF;
    PERFORM pg_notify('lav_points', payload);
    RETURN NULL;
END $$;

CREATE TRIGGER features_values_notify
    AFTER INSERT ON features_values
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lav_notify_points();

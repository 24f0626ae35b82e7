-- The series registry: every (feature_id, entity) ever written, so lavd can
-- load each series' newest points at start without scanning features_values.
-- The statement trigger keeps it current for every writer, lavd or not.

CREATE TABLE series (
    feature_id  text NOT NULL,
    entity      text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (feature_id, entity)
);

INSERT INTO series (feature_id, entity)
SELECT DISTINCT feature_id, entity FROM features_values
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION lav_notify_points() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    series_json jsonb;
    n bigint;
    payload text;
BEGIN
    SELECT count(*) INTO n FROM new_rows;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO series (feature_id, entity)
    SELECT DISTINCT feature_id, entity FROM new_rows
    ON CONFLICT DO NOTHING;
    SELECT coalesce(jsonb_agg(jsonb_build_array(feature_id, entity)), '[]'::jsonb)
      INTO series_json
      FROM (SELECT DISTINCT feature_id, entity FROM new_rows LIMIT 200) s;
    payload := jsonb_build_object('app', current_setting('application_name'),
                                  'n', n, 'series', series_json)::text;
    IF octet_length(payload) > 7000 THEN
        payload := jsonb_build_object('app', current_setting('application_name'),
                                      'n', n, 'series', NULL)::text;
    END IF;
    PERFORM pg_notify('lav_points', payload);
    RETURN NULL;
END $$;

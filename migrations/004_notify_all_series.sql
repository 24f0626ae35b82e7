-- 003's trigger listed at most 200 series and only fell back to "refresh
-- everything" when the payload grew past 7000 bytes, so a statement touching
-- more than 200 short-named series reached lavd only in part. Now more than
-- 200 series always means series = null (lavd reloads every series).

CREATE OR REPLACE FUNCTION lav_notify_points() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    series_json jsonb;
    n bigint;
    nseries bigint;
    payload text;
BEGIN
    SELECT count(*) INTO n FROM new_rows;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO series (feature_id, entity)
    SELECT DISTINCT feature_id, entity FROM new_rows
    ON CONFLICT DO NOTHING;
    SELECT count(*) INTO nseries FROM (SELECT DISTINCT feature_id, entity FROM new_rows) s;
    IF nseries <= 200 THEN
        SELECT coalesce(jsonb_agg(jsonb_build_array(feature_id, entity)), '[]'::jsonb)
          INTO series_json
          FROM (SELECT DISTINCT feature_id, entity FROM new_rows) s;
    END IF;
    payload := jsonb_build_object('app', current_setting('application_name'),
                                  'n', n, 'series', series_json)::text;
    IF octet_length(payload) > 7000 THEN
        payload := jsonb_build_object('app', current_setting('application_name'),
                                      'n', n, 'series', NULL)::text;
    END IF;
    PERFORM pg_notify('lav_points', payload);
    RETURN NULL;
END $$;

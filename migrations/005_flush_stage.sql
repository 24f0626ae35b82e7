-- One publish flush: insert the staged rows and report the staged indices
-- whose key is already stored with another value. The common case (every row
-- new) skips the conflict check; when it runs, it probes the primary key per
-- staged row instead of letting an unanalysed temp table steer the planner
-- into scanning every partition.

CREATE FUNCTION lav_flush_stage() RETURNS SETOF integer
LANGUAGE plpgsql AS $$
DECLARE
    staged bigint;
    inserted bigint;
BEGIN
    SELECT count(*) INTO staged FROM lav_stage;
    INSERT INTO features_values (feature_id, entity, ts, available_at, value, confidence,
                                 meta, evidence)
    SELECT feature_id, entity, ts, available_at, value, confidence, meta, evidence
      FROM lav_stage ORDER BY idx
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted = staged THEN
        RETURN;
    END IF;
    SET LOCAL enable_hashjoin = off;
    SET LOCAL enable_mergejoin = off;
    -- lav's own data-quality flags (meta.dq) depend on what was in memory
    -- and take no part in deciding whether two points are the same
    RETURN QUERY
        SELECT s.idx FROM lav_stage s JOIN features_values v
            ON v.feature_id = s.feature_id AND v.entity = s.entity
           AND v.ts = s.ts AND v.available_at = s.available_at
         WHERE v.value IS DISTINCT FROM s.value
            OR v.confidence IS DISTINCT FROM s.confidence
            OR coalesce(v.meta, '{}') - 'dq' IS DISTINCT FROM coalesce(s.meta, '{}') - 'dq'
            OR v.evidence IS DISTINCT FROM s.evidence
         ORDER BY s.idx;
END $$;

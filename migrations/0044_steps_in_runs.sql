-- A run's steps move into the run's own row (`runs.steps`, a JSON array in step order), and
-- `run_steps` goes. Each accepted run wrote one `run_steps` row per step (a heap tuple, a
-- primary-key entry and a foreign-key check each) and each finished step updated its row;
-- the run's own row is written at the same moments anyway (accepted, claimed, ended), so the
-- steps now ride along. A replay of the engine's statements for 50 three-step runs at a time
-- (`pgbench`, 2 clients, alternating) did 1.23× the runs per second without `run_steps`.
--
-- Each element: {name, status, attempts, output, last_error, started_at, finished_at,
-- duration_ms}, every key present (JSON null when unset), so that an element compares equal
-- to itself after `redact_pii` when nothing in it is personal. Every change is made in SQL
-- on the row as it is (a patch per step, never the whole array from a client's copy): the
-- engine's under the run's lease, an operator's retry or cancel on a run no one holds, an
-- erasure's redaction on any run.
ALTER TABLE runs ADD COLUMN steps jsonb NOT NULL DEFAULT '[]';

UPDATE runs r SET steps = s.steps
FROM (SELECT run_id,
             jsonb_agg(jsonb_build_object(
                 'name', name, 'status', status, 'attempts', attempts, 'output', output,
                 'last_error', last_error, 'started_at', started_at,
                 'finished_at', finished_at, 'duration_ms', duration_ms) ORDER BY idx) AS steps
      FROM run_steps GROUP BY run_id) s
WHERE r.id = s.run_id;

DROP TABLE run_steps;

-- `steps` with each patch of `patches` (a JSON array of objects, each with the `idx` of the
-- step it changes) merged into its step: the engine's checkpoints, failures and ends.
CREATE FUNCTION orderdesk_steps_patched(steps jsonb, patches jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    p jsonb;
    i int;
BEGIN
    FOR p IN SELECT * FROM jsonb_array_elements(patches) LOOP
        i := (p->>'idx')::int;
        steps := jsonb_set(steps, ARRAY[i::text], (steps->i) || (p - 'idx'));
    END LOOP;
    RETURN steps;
END $$;

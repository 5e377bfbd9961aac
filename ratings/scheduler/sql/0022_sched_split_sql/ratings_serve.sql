-- ratings_serve: a rater's open pairs, topped up (takes the participation's row lock).
-- A template: the installer fills each double-braced NAME from Python (ratings/scheduler/sql/__init__.py,
-- ``constants``), and the migration pins the sha256 of the rendered text of its version.
-- Never edit a file a migration installs: copy it into the next version's folder and change the copy.
CREATE OR REPLACE FUNCTION ratings_serve(p_study bigint, p_rater bigint) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  st ratings_study%ROWTYPE;
  part ratings_participation%ROWTYPE;
BEGIN
  SELECT * INTO st FROM ratings_study WHERE id = p_study;
  SELECT * INTO part FROM ratings_participation WHERE study_id = p_study AND rater_id = p_rater FOR UPDATE;
  IF NOT FOUND OR st.id IS NULL THEN
    RETURN jsonb_build_object('status', {{ OUTCOME_FORBIDDEN }});
  END IF;
  RETURN ratings_serve_locked(st, part);
END
$fn$;

-- The scheduler's PostgreSQL functions as migration 0019_budget_stops_serving installs
-- them: 0016's, and the vote budget stops serving when it is reached, not at the next refresh
-- (issue 26, item 6): a study with a vote budget serves a new pair only by taking one of its
-- ratings_study.budget_serves_left (the budget less the comparisons answered or open, set by
-- ratings/sampling.py on opening, at each refresh and on reopening; NULL: not counted yet).
-- Never edit an installed file: a change is a new file and a migration of the same name.
CREATE OR REPLACE FUNCTION ratings_serve(p_study bigint, p_rater bigint) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  st ratings_study%ROWTYPE;
  part ratings_participation%ROWTYPE;
BEGIN
  SELECT * INTO st FROM ratings_study WHERE id = p_study;
  SELECT * INTO part FROM ratings_participation WHERE study_id = p_study AND rater_id = p_rater FOR UPDATE;
  IF NOT FOUND OR st.id IS NULL THEN
    RETURN jsonb_build_object('status', 'forbidden');
  END IF;
  RETURN ratings_serve_locked(st, part);
END
$fn$;

-- The serving itself, for a caller that holds the participation's row lock (ratings_serve, or
-- ratings_vote right after recording, which passes the rows it already has).
--
-- Generic plans only: the search for lapsed reservations compares expires_at with the current
-- time, a parameter whose value makes a fresh plan look cheaper than the cached one, so under
-- the default setting PostgreSQL planned that statement again on every vote (90 us of its
-- ~650 us; pg_stat_statements counted a plan per call).
CREATE OR REPLACE FUNCTION ratings_serve_locked(st ratings_study, part ratings_participation) RETURNS jsonb
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $fn$
DECLARE
  p_study bigint := st.id;
  p_rater bigint := part.rater_id;
  v_now timestamptz := clock_timestamp();  -- not now(): tests run many calls in one transaction
  v_hold interval;
  n_open integer;
  v_served boolean;
  v_retries integer := 0;
  v_check ratings_attentioncheck%ROWTYPE;
  v_orig ratings_comparison%ROWTYPE;
  v_slot ratings_pairslot%ROWTYPE;
  v_found boolean;
  v_level integer := st.serve_level;
  v_filled integer;
  v_pair integer;
  v_draw float8;
  -- The per-slot cap: the vote target, or none for a study stopped by its rule or budget.
  v_cap integer := CASE WHEN st.stop_when = 'target' THEN st.votes_per_pair ELSE 2147483647 END;
  r record;
BEGIN
  v_hold := make_interval(secs => st.reservation_seconds);

  -- The rater is active: keep their open pairs reserved (rewritten only past half their
  -- hold, so most votes do not write these rows again).
  UPDATE ratings_comparison c SET expires_at = v_now + v_hold
  WHERE c.id IN (
    SELECT id FROM ratings_comparison
    WHERE study_id = p_study AND rater_id = p_rater AND answered_at IS NULL AND released_at IS NULL
      AND expires_at >= v_now AND expires_at < v_now + v_hold / 2
    FOR UPDATE SKIP LOCKED);

  -- Abandoned tabs free their pairs: give back a bounded batch of lapsed reservations.
  FOR r IN
    WITH lapsed AS (
      SELECT id FROM ratings_comparison
      WHERE study_id = p_study AND answered_at IS NULL AND released_at IS NULL AND expires_at < v_now
      ORDER BY expires_at LIMIT 200 FOR UPDATE SKIP LOCKED
    ), released AS (
      UPDATE ratings_comparison c SET released_at = v_now FROM lapsed WHERE c.id = lapsed.id
      RETURNING c.slot_id, c.is_repeat
    )
    SELECT slot_id, count(*) AS n FROM released WHERE slot_id IS NOT NULL AND NOT is_repeat
    GROUP BY slot_id ORDER BY slot_id
  LOOP
    UPDATE ratings_pairslot SET filled = filled - r.n WHERE id = r.slot_id RETURNING filled INTO v_filled;
    IF v_filled < v_level THEN
      -- A slot given back below the study's level is served first again.
      UPDATE ratings_study SET serve_level = v_filled WHERE id = p_study AND serve_level > v_filled;
      v_level := v_filled;
    END IF;
  END LOOP;

  SELECT count(*) INTO n_open FROM ratings_comparison
  WHERE study_id = p_study AND rater_id = p_rater AND answered_at IS NULL AND released_at IS NULL;

  WHILE n_open < 2 AND part.answered + n_open < st.quota_per_rater
        AND st.status = 'rating' AND st.stopped_at IS NULL AND part.finished_at IS NULL
        AND (st.vote_budget IS NULL OR st.budget_serves_left IS NULL OR st.budget_serves_left > 0) LOOP
    v_served := false;
    IF st.attention_check_rate > 0 AND random() < st.attention_check_rate THEN
      SELECT a.* INTO v_check FROM ratings_attentioncheck a
      WHERE a.study_id = p_study AND NOT a.retired
        AND NOT EXISTS (SELECT 1 FROM ratings_comparison c WHERE c.rater_id = p_rater AND c.attention_check_id = a.id)
      ORDER BY random() LIMIT 1;
      IF FOUND THEN
        INSERT INTO ratings_comparison (study_id, rater_id, prompt_id, seed, image_a_id, image_b_id, left_is_a, token,
            served_at, expires_at, attention_check_id, is_repeat, report_reason, report_note)
        VALUES (p_study, p_rater, v_check.prompt_id, v_check.seed, v_check.image_id,
            COALESCE(v_check.decoy_image_id, v_check.image_id), random() < 0.5, gen_random_uuid(),
            v_now, v_now + v_hold, v_check.id, false, '', '');
        v_served := true;
      END IF;
    END IF;
    IF NOT v_served AND st.repeat_share > 0 AND random() < st.repeat_share THEN
      -- A pair this rater answered, not one of their last three, not repeated yet, whose slot
      -- still serves (a retired slot shows a hidden image, or one raters reported). The slot is
      -- looked up by its key for the drawn pairs only, in their random order (usually one probe):
      -- OFFSET 0 keeps the filter out of the subquery, and out of a join that would read every
      -- candidate's slot, or scan the slots' key index, on every repeat.
      SELECT c.* INTO v_orig FROM (
        SELECT c.* FROM ratings_comparison c
        WHERE c.study_id = p_study AND c.rater_id = p_rater AND c.answered_at IS NOT NULL
          AND c.slot_id IS NOT NULL AND NOT c.is_repeat
          AND c.id < (SELECT min(id) FROM (SELECT id FROM ratings_comparison
                      WHERE study_id = p_study AND rater_id = p_rater ORDER BY id DESC LIMIT 3) recent)
          AND NOT EXISTS (SELECT 1 FROM ratings_comparison rep WHERE rep.repeat_of_id = c.id)
        ORDER BY random() OFFSET 0) c
      WHERE NOT EXISTS (SELECT 1 FROM ratings_pairslot s WHERE s.id = c.slot_id AND s.retired OFFSET 0)
      LIMIT 1;
      IF FOUND THEN
        INSERT INTO ratings_comparison (study_id, rater_id, prompt_id, seed, image_a_id, image_b_id, left_is_a, token,
            served_at, expires_at, slot_id, is_repeat, repeat_of_id, report_reason, report_note)
        VALUES (p_study, p_rater, v_orig.prompt_id, v_orig.seed, v_orig.image_a_id, v_orig.image_b_id,
            random() < 0.5, gen_random_uuid(), v_now, v_now + v_hold, v_orig.slot_id, true, v_orig.id, '', '');
        v_served := true;
      END IF;
    END IF;
    IF NOT v_served THEN
      v_found := false;
      v_pair := NULL;
      IF st.sampling = 'adaptive' AND jsonb_typeof(st.pair_weights) = 'array' THEN
        -- Adaptive: draw a model pair by the study's precomputed weights (a uniform number
        -- against their running sum), then its least-filled slot this rater has not seen.
        -- (random() once, into a variable: in the WHERE clause it would be drawn per row.)
        SELECT random() * sum(x::float8) INTO v_draw FROM jsonb_array_elements_text(st.pair_weights) x;
        SELECT (w.i - 1)::integer INTO v_pair FROM (
          SELECT t.i, sum(t.x::float8) OVER (ORDER BY t.i) AS cumulative
          FROM jsonb_array_elements_text(st.pair_weights) WITH ORDINALITY AS t(x, i)) w
        WHERE w.cumulative > v_draw
        ORDER BY w.i LIMIT 1;
        IF v_pair IS NOT NULL THEN
          SELECT s.* INTO v_slot FROM ratings_pairslot s
          -- From the pair's level at the last refresh (see sampling.pair_levels), as serve_level.
          WHERE s.study_id = p_study AND s.model_pair = v_pair AND NOT s.retired AND s.filled < v_cap
            AND s.filled >= COALESCE((st.pair_levels ->> v_pair)::integer, 0)
            AND NOT EXISTS (SELECT 1 FROM ratings_comparison c WHERE c.rater_id = p_rater AND c.slot_id = s.id OFFSET 0)
          ORDER BY s.filled, s.random_key LIMIT 1
          FOR UPDATE SKIP LOCKED;
          v_found := FOUND;
        END IF;
        IF NOT v_found THEN
          v_pair := NULL;
        END IF;
      END IF;
      -- Balance (uniform, or the drawn pair has nothing for this rater): the least-filled
      -- slot this rater has not seen, in random order among equals.
      -- The search starts at the study's fill level: the index entries a reservation leaves
      -- behind (it moves its slot one level up) lie below it, and a search from the bottom
      -- would step over every one of them until VACUUM removes them.
      LOOP
        EXIT WHEN v_found;
        SELECT s.* INTO v_slot FROM ratings_pairslot s
        WHERE s.study_id = p_study AND NOT s.retired AND s.filled >= v_level AND s.filled < v_cap
          -- OFFSET 0 keeps this a probe of the (rater, slot) index per candidate; as an
          -- anti-join the planner would read the rater's whole history on every serve.
          AND NOT EXISTS (SELECT 1 FROM ratings_comparison c WHERE c.rater_id = p_rater AND c.slot_id = s.id OFFSET 0)
        ORDER BY s.filled, s.random_key LIMIT 1
        FOR UPDATE SKIP LOCKED;
        v_found := FOUND;
        -- Nothing from the level up: look from the bottom too, in case a slot was given back
        -- below the level while this rater's row was read.
        EXIT WHEN v_found OR v_level = 0;
        v_level := 0;
      END LOOP;
      IF v_found AND v_pair IS NULL AND v_slot.filled > v_level AND NOT EXISTS (
          SELECT 1 FROM ratings_pairslot s WHERE s.study_id = p_study AND NOT s.retired AND s.filled < v_slot.filled) THEN
        -- Nothing is left below this slot's level for anyone (reserved slots count as taken):
        -- the study's level moves up.
        UPDATE ratings_study SET serve_level = v_slot.filled WHERE id = p_study AND serve_level < v_slot.filled;
        v_level := v_slot.filled;
      END IF;
      IF NOT v_found AND n_open = 0 AND v_retries < 4 THEN
        -- The rest may be locked by raters being served, or being given back, right now: look
        -- again shortly (each statement sees what was committed since) rather than end this
        -- rater's session. Never a blocking lock wait, so raters cannot deadlock here.
        v_retries := v_retries + 1;
        PERFORM pg_sleep(0.02);
        CONTINUE;
      END IF;
      EXIT WHEN NOT v_found;
      IF st.vote_budget IS NOT NULL AND st.budget_serves_left IS NOT NULL THEN
        -- The pair takes one of the serves the budget has left; none left: serve nothing more.
        UPDATE ratings_study SET budget_serves_left = budget_serves_left - 1 WHERE id = p_study AND budget_serves_left > 0;
        EXIT WHEN NOT FOUND;
      END IF;
      UPDATE ratings_pairslot SET filled = filled + 1, random_key = random() WHERE id = v_slot.id;
      INSERT INTO ratings_comparison (study_id, rater_id, prompt_id, seed, image_a_id, image_b_id, left_is_a, token,
          served_at, expires_at, slot_id, is_repeat, report_reason, report_note)
      VALUES (p_study, p_rater, v_slot.prompt_id, v_slot.seed, v_slot.image_a_id, v_slot.image_b_id,
          random() < 0.5, gen_random_uuid(), v_now, v_now + v_hold, v_slot.id, false, '', '');
    END IF;
    n_open := n_open + 1;
  END LOOP;

  IF jsonb_array_length(st.set_criteria) > 0 THEN
    -- Set comparisons say so, with the number of images in each set (the study's seeds).
    RETURN jsonb_build_object(
      'status', 'ok', 'answered', part.answered, 'quota', st.quota_per_rater,
      'pairs', COALESCE((
        SELECT jsonb_agg(CASE WHEN s.kind = 'set'
            THEN jsonb_build_object('token', c.token, 'prompt', p.text, 'set_size',
                 (SELECT jsonb_array_length(j.seeds) FROM generation_generationjob j WHERE j.id = st.job_id))
            ELSE jsonb_build_object('token', c.token, 'prompt', p.text) END ORDER BY c.id)
        FROM ratings_comparison c JOIN generation_prompt p ON p.id = c.prompt_id
        LEFT JOIN ratings_pairslot s ON s.id = c.slot_id
        WHERE c.study_id = p_study AND c.rater_id = p_rater AND c.answered_at IS NULL AND c.released_at IS NULL
      ), '[]'::jsonb));
  END IF;
  RETURN jsonb_build_object(
    'status', 'ok', 'answered', part.answered, 'quota', st.quota_per_rater,
    'pairs', COALESCE((
      SELECT jsonb_agg(jsonb_build_object('token', c.token, 'prompt', p.text) ORDER BY c.id)
      FROM ratings_comparison c JOIN generation_prompt p ON p.id = c.prompt_id
      WHERE c.study_id = p_study AND c.rater_id = p_rater AND c.answered_at IS NULL AND c.released_at IS NULL
    ), '[]'::jsonb));
END
$fn$;

CREATE OR REPLACE FUNCTION ratings_vote(p_study bigint, p_rater bigint, p_token uuid, p_answers jsonb, p_response_ms integer)
RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  st ratings_study%ROWTYPE;
  part ratings_participation%ROWTYPE;
  c ratings_comparison%ROWTYPE;
  v_now timestamptz := clock_timestamp();  -- not now(): tests run many calls in one transaction
  v_missing text;
  v_bad text;
  v_failed boolean := NULL;
  v_known jsonb;
  v_criteria jsonb;
BEGIN
  SELECT * INTO part FROM ratings_participation WHERE study_id = p_study AND rater_id = p_rater FOR UPDATE;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('status', 'forbidden');
  END IF;
  SELECT * INTO c FROM ratings_comparison WHERE token = p_token FOR UPDATE;
  IF NOT FOUND OR c.rater_id <> p_rater OR c.study_id <> p_study THEN
    RETURN jsonb_build_object('status', 'forbidden');
  END IF;
  SELECT * INTO st FROM ratings_study WHERE id = p_study;
  IF c.answered_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'duplicate');
  END IF;
  IF c.reported_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'reported', 'message', 'You skipped this pair; here is another one.');
  END IF;
  -- Votes count only where they may: an open study, a live session, within quota
  -- (late votes on lapsed reservations could otherwise go past it).
  IF st.status <> 'rating' THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'closed', 'message', 'This study is not taking answers now (it is paused or closed); your answer was not recorded.');
  END IF;
  IF part.finished_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'finished', 'message', 'Your session in this study has ended (you finished or withdrew); your answer was not recorded.');
  END IF;
  IF part.answered >= st.quota_per_rater THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'quota', 'message', 'You have answered every pair this study asks of you; this answer was not recorded.');
  END IF;

  -- What this comparison asks: the set criteria for one served from a set slot (looked up only
  -- in studies that have set criteria), the criteria otherwise.
  v_criteria := st.criteria;
  IF jsonb_array_length(st.set_criteria) > 0 AND c.slot_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM ratings_pairslot s WHERE s.id = c.slot_id AND s.kind = 'set') THEN
    v_criteria := st.set_criteria;
  END IF;

  SELECT string_agg(x, ', ') INTO v_missing FROM jsonb_array_elements_text(v_criteria) x
  WHERE coalesce(p_answers ->> x, '') = '';
  IF v_missing IS NOT NULL THEN
    RETURN jsonb_build_object('status', 'invalid', 'message', replace('Answer every question before submitting (missing: {missing}).', '{missing}', v_missing));
  END IF;
  SELECT x INTO v_bad FROM jsonb_array_elements_text(v_criteria) x
  WHERE NOT (p_answers ->> x = ANY (CASE WHEN st.allow_ties THEN ARRAY['left', 'right', 'tie'] ELSE ARRAY['left', 'right'] END))
  LIMIT 1;
  IF v_bad IS NOT NULL THEN
    RETURN jsonb_build_object('status', 'invalid', 'message', replace(replace('The answer to ''{criterion}'' must be {allowed}.', '{criterion}', v_bad),
      '{allowed}', CASE WHEN st.allow_ties THEN 'left, right or tie' ELSE 'left or right' END));
  END IF;

  -- Time on this pair: since it was served, or since the rater's previous answer if later
  -- (the page preloads the next pair before it is shown).
  IF extract(epoch FROM v_now - greatest(c.served_at, coalesce(part.last_answered_at, c.served_at))) < st.min_seconds_per_vote THEN
    RETURN ratings_serve_locked(st, part)
      || jsonb_build_object('status', 'too_fast', 'message', replace('Please take at least {seconds} seconds to look at both images before answering.', '{seconds}', st.min_seconds_per_vote::text));
  END IF;

  -- A late vote on a lapsed reservation counts only if its slot still has room.
  IF c.released_at IS NOT NULL AND c.slot_id IS NOT NULL AND NOT c.is_repeat THEN
    -- (The slot's cap is the serving search's: the vote target, or none when a stopping rule or
    -- the budget ends the study.)
    UPDATE ratings_pairslot SET filled = filled + 1
    WHERE id = c.slot_id AND retired = false
      AND filled < CASE WHEN st.stop_when = 'target' THEN st.votes_per_pair ELSE 2147483647 END;
    IF NOT FOUND THEN
      RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'expired', 'message', 'This pair was open too long and went to another rater; here is a new one.');
    END IF;
  END IF;

  INSERT INTO ratings_vote (comparison_id, criterion, choice, response_ms, excluded, created_at)
  SELECT c.id, x,
         CASE WHEN p_answers ->> x = 'tie' THEN 'tie' WHEN (p_answers ->> x = 'left') = c.left_is_a THEN 'a' ELSE 'b' END,
         greatest(p_response_ms, 0), false, v_now
  FROM jsonb_array_elements_text(v_criteria) x;

  IF c.attention_check_id IS NOT NULL THEN
    -- The real image (A) is the right answer to every criterion the check knows.
    SELECT criteria INTO v_known FROM ratings_attentioncheck WHERE id = c.attention_check_id;
    SELECT coalesce(bool_or(NOT (p_answers ->> x <> 'tie' AND (p_answers ->> x = 'left') = c.left_is_a)), false)
    INTO v_failed FROM jsonb_array_elements_text(v_known) x WHERE v_criteria ? x;
  END IF;
  UPDATE ratings_comparison SET answered_at = v_now, released_at = NULL, failed_check = v_failed WHERE id = c.id;
  UPDATE ratings_participation
  SET answered = answered + 1, last_answered_at = v_now,
      failed_checks = failed_checks + CASE WHEN v_failed THEN 1 ELSE 0 END
  WHERE id = part.id
  RETURNING * INTO part;
  -- Flagged in this study only (a crowd worker may do well in the next); the caller refreshes
  -- the study's cached leaderboards when this flags the participation now.
  IF v_failed AND part.failed_checks >= st.flag_after_failed_checks AND NOT part.flagged THEN
    UPDATE ratings_participation SET flagged = true, flag_reason = 'attention_checks' WHERE id = part.id;
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'recorded', 'flagged_now', true);
  END IF;
  RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', 'recorded');
END
$fn$;

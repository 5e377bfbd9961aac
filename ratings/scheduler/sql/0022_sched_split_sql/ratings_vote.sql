-- ratings_vote: record one answer per criterion for a served pair, then serve.
-- A template: the installer fills each double-braced NAME from Python (ratings/scheduler/sql/__init__.py,
-- ``constants``), and the migration pins the sha256 of the rendered text of its version.
-- Never edit a file a migration installs: copy it into the next version's folder and change the copy.
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
    RETURN jsonb_build_object('status', {{ OUTCOME_FORBIDDEN }});
  END IF;
  SELECT * INTO c FROM ratings_comparison WHERE token = p_token FOR UPDATE;
  IF NOT FOUND OR c.rater_id <> p_rater OR c.study_id <> p_study THEN
    RETURN jsonb_build_object('status', {{ OUTCOME_FORBIDDEN }});
  END IF;
  SELECT * INTO st FROM ratings_study WHERE id = p_study;
  IF c.answered_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_DUPLICATE }});
  END IF;
  IF c.reported_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_REPORTED }}, 'message', {{ MESSAGE_REPORTED }});
  END IF;
  -- Votes count only where they may: an open study, a live session, within quota
  -- (late votes on lapsed reservations could otherwise go past it).
  IF st.status <> {{ STATUS_RATING }} THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_CLOSED }}, 'message', {{ MESSAGE_CLOSED }});
  END IF;
  IF part.finished_at IS NOT NULL THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_FINISHED }}, 'message', {{ MESSAGE_FINISHED }});
  END IF;
  IF part.answered >= st.quota_per_rater THEN
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_QUOTA }}, 'message', {{ MESSAGE_QUOTA }});
  END IF;

  -- What this comparison asks: the set criteria for one served from a set slot (looked up only
  -- in studies that have set criteria), the criteria otherwise.
  v_criteria := st.criteria;
  IF jsonb_array_length(st.set_criteria) > 0 AND c.slot_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM ratings_pairslot s WHERE s.id = c.slot_id AND s.kind = {{ KIND_SET }}) THEN
    v_criteria := st.set_criteria;
  END IF;

  SELECT string_agg(x, ', ') INTO v_missing FROM jsonb_array_elements_text(v_criteria) x
  WHERE coalesce(p_answers ->> x, '') = '';
  IF v_missing IS NOT NULL THEN
    RETURN jsonb_build_object('status', {{ OUTCOME_INVALID }}, 'message', replace({{ MISSING_ANSWERS }}, '{missing}', v_missing));
  END IF;
  SELECT x INTO v_bad FROM jsonb_array_elements_text(v_criteria) x
  WHERE NOT (p_answers ->> x = ANY (CASE WHEN st.allow_ties THEN ARRAY[{{ SIDE_LEFT }}, {{ SIDE_RIGHT }}, {{ SIDE_TIE }}] ELSE ARRAY[{{ SIDE_LEFT }}, {{ SIDE_RIGHT }}] END))
  LIMIT 1;
  IF v_bad IS NOT NULL THEN
    RETURN jsonb_build_object('status', {{ OUTCOME_INVALID }}, 'message', replace(replace({{ BAD_ANSWER }}, '{criterion}', v_bad),
      '{allowed}', CASE WHEN st.allow_ties THEN {{ ALLOWED_WITH_TIES }} ELSE {{ ALLOWED_WITHOUT_TIES }} END));
  END IF;

  -- Time on this pair: since it was served, or since the rater's previous answer if later
  -- (the page preloads the next pair before it is shown).
  IF extract(epoch FROM v_now - greatest(c.served_at, coalesce(part.last_answered_at, c.served_at))) < st.min_seconds_per_vote THEN
    RETURN ratings_serve_locked(st, part)
      || jsonb_build_object('status', {{ OUTCOME_TOO_FAST }}, 'message', replace({{ MESSAGE_TOO_FAST }}, '{seconds}', st.min_seconds_per_vote::text));
  END IF;

  -- A late vote on a lapsed reservation counts only if its slot still has room.
  IF c.released_at IS NOT NULL AND c.slot_id IS NOT NULL AND NOT c.is_repeat THEN
    -- (The slot's cap is the serving search's: the vote target, or none when a stopping rule or
    -- the budget ends the study.)
    UPDATE ratings_pairslot SET filled = filled + 1
    WHERE id = c.slot_id AND retired = false
      AND filled < CASE WHEN st.stop_when = {{ STOP_TARGET }} THEN st.votes_per_pair ELSE {{ SLOT_UNCAPPED }} END;
    IF NOT FOUND THEN
      RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_EXPIRED }}, 'message', {{ MESSAGE_EXPIRED }});
    END IF;
  END IF;

  INSERT INTO ratings_vote (comparison_id, criterion, choice, response_ms, excluded, created_at)
  SELECT c.id, x,
         CASE WHEN p_answers ->> x = {{ SIDE_TIE }} THEN {{ CHOICE_TIE }} WHEN (p_answers ->> x = {{ SIDE_LEFT }}) = c.left_is_a THEN {{ CHOICE_A }} ELSE {{ CHOICE_B }} END,
         greatest(p_response_ms, 0), false, v_now
  FROM jsonb_array_elements_text(v_criteria) x;

  IF c.attention_check_id IS NOT NULL THEN
    -- The real image (A) is the right answer to every criterion the check knows.
    SELECT criteria INTO v_known FROM ratings_attentioncheck WHERE id = c.attention_check_id;
    SELECT coalesce(bool_or(NOT (p_answers ->> x <> {{ SIDE_TIE }} AND (p_answers ->> x = {{ SIDE_LEFT }}) = c.left_is_a)), false)
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
    UPDATE ratings_participation SET flagged = true, flag_reason = {{ FLAG_ATTENTION_CHECKS }} WHERE id = part.id;
    RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_RECORDED }}, 'flagged_now', true);
  END IF;
  RETURN ratings_serve_locked(st, part) || jsonb_build_object('status', {{ OUTCOME_RECORDED }});
END
$fn$;

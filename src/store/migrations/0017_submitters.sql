-- 0017: submitter telemetry. What each agency submitted, per day (UTC) and outcome (accepted,
-- duplicate, refused:<problem>), added to by every hub once a minute, and when the agency last had
-- a submission accepted: the scorecard's submitters and silence detection. Written by
-- src/store/submitters_repo.cpp.
ALTER TABLE agencies ADD COLUMN last_submission_at timestamptz;

CREATE TABLE submitter_days (
  ori      text NOT NULL,
  day      date NOT NULL,
  outcome  text NOT NULL,
  n        bigint NOT NULL,
  PRIMARY KEY (ori, day, outcome)
);
CREATE INDEX submitter_days_by_day ON submitter_days (day);

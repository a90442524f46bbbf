-- 0026: cjhub_keep_last() (0021) as one expression, so that the planner inlines it.
--
-- A SQL function whose body reads FROM a subquery is run by the function executor on every call,
-- and a completion round calls it four times per delivery (its attempt's time, status, duration
-- and error). A body that is a single expression is substituted into the statement that calls it
-- and costs what the expression costs (array_append and a slice). Same result for every input:
-- the last n elements of the array with v appended.
CREATE OR REPLACE FUNCTION cjhub_keep_last(a anycompatiblearray, v anycompatible, n integer) RETURNS anycompatiblearray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (array_append(a, v))[greatest(1, cardinality(a) - n + 2):]
$$;

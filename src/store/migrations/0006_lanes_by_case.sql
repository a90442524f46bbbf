-- 0006: lanes indexed by case first. Routing, promotion and erasure look lanes up by case (and
-- endpoint); with the case leading, a look-up by case alone no longer walks every open lane.
DROP INDEX deliveries_lane;
CREATE INDEX deliveries_lane ON deliveries (case_key, endpoint_id, seq)
  WHERE state IN ('queued', 'pending', 'in_flight');

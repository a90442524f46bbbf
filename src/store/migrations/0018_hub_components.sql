-- 0018: the hub's own availability. Each hub samples its /readyz components every second and adds,
-- per minute, the seconds each was ok and down (`overall`: every component ok at once), written by
-- src/store/availability_repo.cpp. Best health across the hubs sharing the database: in a minute,
-- a component counts as well as its best hub.
CREATE TABLE hub_component_minutes (
  minute     timestamptz NOT NULL,
  component  text NOT NULL,
  instance   text NOT NULL,
  ok_s       integer NOT NULL DEFAULT 0,
  down_s     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, component, instance)
);

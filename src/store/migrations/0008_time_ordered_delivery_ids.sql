-- 0008: deliveries get time-ordered ids (UUID version 7, RFC 9562) like messages do, so the
-- primary key grows at its right edge instead of touching a random leaf page (and logging it in
-- full after each checkpoint) for every delivery created.
CREATE FUNCTION cjhub_uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1), 'hex')::uuid
$$;

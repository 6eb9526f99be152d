-- Wake the outbox relays once per statement that adds outbox rows, whoever adds them: the
-- ingest path needs no separate round trip for pg_notify, and no writer can forget it.
CREATE FUNCTION pulse_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('pulse_outbox', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION pulse_notify_outbox();

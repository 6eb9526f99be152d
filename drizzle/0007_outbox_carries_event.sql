ALTER TABLE "outbox" ADD COLUMN "type" text;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "occurred_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "value" double precision;--> statement-breakpoint
-- Rows waiting when this migration runs take their event's fields; an outbox row whose event is gone has nothing left to relay.
UPDATE "outbox" o SET "type" = e."type", "occurred_at" = e."occurred_at", "value" = e."value" FROM "events" e WHERE e."id" = o."event_id";--> statement-breakpoint
DELETE FROM "outbox" WHERE "type" IS NULL;--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "type" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "occurred_at" SET NOT NULL;

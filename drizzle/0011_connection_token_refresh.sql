ALTER TABLE "connections" ADD COLUMN "refresh_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "refresh_not_before" timestamp with time zone;
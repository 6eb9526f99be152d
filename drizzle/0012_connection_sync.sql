CREATE TABLE "synced_records" (
	"connection_id" uuid NOT NULL,
	"remote_id" text NOT NULL,
	"version" text NOT NULL,
	"kind" text NOT NULL,
	"user_key" text,
	"user_id" uuid,
	"event_id" uuid,
	"occurred_at" timestamp with time zone NOT NULL,
	"value" double precision,
	"currency" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "synced_records_connection_id_remote_id_pk" PRIMARY KEY("connection_id","remote_id")
);
--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sync_state" text DEFAULT 'idle' NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sync_job_id" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "sync_heartbeat_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "rate_limited_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "last_run" jsonb;--> statement-breakpoint
ALTER TABLE "synced_records" ADD CONSTRAINT "synced_records_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "synced_records_unmatched_idx" ON "synced_records" USING btree ("connection_id","updated_at") WHERE "synced_records"."user_id" is null;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_sync_state_check" CHECK ("connections"."sync_state" in ('idle', 'queued', 'running', 'rate_limited', 'failed'));
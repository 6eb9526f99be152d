CREATE TABLE "pending_pushes" (
	"user_id" uuid NOT NULL,
	"to_seq" bigint NOT NULL,
	"from_seq" bigint NOT NULL,
	"tenant_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pending_pushes_user_id_to_seq_pk" PRIMARY KEY("user_id","to_seq")
);
--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "relayed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "pending_pushes_created_at_idx" ON "pending_pushes" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "outbox_event_id_idx" ON "outbox" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "outbox_unrelayed_idx" ON "outbox" USING btree ("id") WHERE "outbox"."relayed_at" is null;--> statement-breakpoint
CREATE INDEX "outbox_relayed_at_idx" ON "outbox" USING btree ("relayed_at") WHERE "outbox"."relayed_at" is not null;
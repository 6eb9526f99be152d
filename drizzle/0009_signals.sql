CREATE TABLE "fused_signal_history" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "fused_signal_history_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"tenant_id" uuid NOT NULL,
	"user_id" uuid,
	"key" text NOT NULL,
	"value" double precision NOT NULL,
	"lo" double precision NOT NULL,
	"hi" double precision NOT NULL,
	"computed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fused_signals" (
	"tenant_id" uuid NOT NULL,
	"user_id" uuid,
	"key" text NOT NULL,
	"value" double precision NOT NULL,
	"sigma" double precision NOT NULL,
	"lo" double precision NOT NULL,
	"hi" double precision NOT NULL,
	"unit" text,
	"method" text NOT NULL,
	"inputs" jsonb NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "fused_signals_scope" UNIQUE NULLS NOT DISTINCT("tenant_id","key","user_id")
);
--> statement-breakpoint
CREATE TABLE "signal_readings" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"user_id" uuid,
	"key" text NOT NULL,
	"source" text NOT NULL,
	"value" double precision NOT NULL,
	"sigma" double precision,
	"unit" text,
	"observed_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"idempotency_key" text
);
--> statement-breakpoint
ALTER TABLE "outbox" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "kind" text DEFAULT 'event' NOT NULL;--> statement-breakpoint
ALTER TABLE "fused_signal_history" ADD CONSTRAINT "fused_signal_history_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fused_signal_history" ADD CONSTRAINT "fused_signal_history_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fused_signals" ADD CONSTRAINT "fused_signals_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "fused_signals" ADD CONSTRAINT "fused_signals_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "signal_readings" ADD CONSTRAINT "signal_readings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "signal_readings" ADD CONSTRAINT "signal_readings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "fused_signal_history_scope_idx" ON "fused_signal_history" USING btree ("tenant_id","key","user_id","computed_at");--> statement-breakpoint
CREATE INDEX "fused_signal_history_computed_at_idx" ON "fused_signal_history" USING btree ("computed_at");--> statement-breakpoint
CREATE UNIQUE INDEX "signal_readings_tenant_idempotency_key" ON "signal_readings" USING btree ("tenant_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "signal_readings_latest_idx" ON "signal_readings" USING btree ("tenant_id","key","user_id","source","observed_at");--> statement-breakpoint
CREATE INDEX "signal_readings_received_at_idx" ON "signal_readings" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "outbox_signal_idx" ON "outbox" USING btree ("tenant_id","type") WHERE "outbox"."kind" = 'signal';
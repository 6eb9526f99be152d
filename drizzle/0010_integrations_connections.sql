CREATE TABLE "connection_credentials" (
	"connection_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"key_id" text NOT NULL,
	"sealed" text NOT NULL,
	"expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connection_credentials_connection_id_kind_pk" PRIMARY KEY("connection_id","kind"),
	CONSTRAINT "connection_credentials_kind_check" CHECK ("connection_credentials"."kind" in ('access_token', 'refresh_token', 'api_key', 'client_id', 'client_secret'))
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"name" text NOT NULL,
	"settings" jsonb NOT NULL,
	"schedule_minutes" integer,
	"mapping" jsonb NOT NULL,
	"status" text DEFAULT 'needs_reauth' NOT NULL,
	"cursor" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"records_synced" bigint DEFAULT 0 NOT NULL,
	"events_created" bigint DEFAULT 0 NOT NULL,
	"unmatched_records" bigint DEFAULT 0 NOT NULL,
	"last_sync_started_at" timestamp with time zone,
	"last_sync_finished_at" timestamp with time zone,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connections_provider_check" CHECK ("connections"."provider" in ('shopify', 'stripe', 'etsy', 'tiktok_shop')),
	CONSTRAINT "connections_status_check" CHECK ("connections"."status" in ('active', 'needs_reauth', 'broken', 'disabled'))
);
--> statement-breakpoint
CREATE TABLE "oauth_states" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"connection_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"code_verifier" text,
	"key_id" text,
	"redirect_uri" text NOT NULL,
	"actor" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "connection_credentials" ADD CONSTRAINT "connection_credentials_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "oauth_states" ADD CONSTRAINT "oauth_states_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "connection_credentials_key_id_idx" ON "connection_credentials" USING btree ("key_id");--> statement-breakpoint
CREATE UNIQUE INDEX "connections_tenant_name_key" ON "connections" USING btree ("tenant_id","name");--> statement-breakpoint
CREATE INDEX "connections_tenant_page_idx" ON "connections" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "oauth_states_expires_at_idx" ON "oauth_states" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "oauth_states_connection_idx" ON "oauth_states" USING btree ("connection_id");
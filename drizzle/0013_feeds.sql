CREATE TABLE "feed_affinities" (
	"user_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"dimension" text NOT NULL,
	"key" text NOT NULL,
	"score" double precision NOT NULL,
	"count" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "feed_affinities_user_id_dimension_key_pk" PRIMARY KEY("user_id","dimension","key")
);
--> statement-breakpoint
CREATE TABLE "feed_entries" (
	"user_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"position" integer NOT NULL,
	"item_id" text NOT NULL,
	"score" double precision NOT NULL,
	"final_score" double precision NOT NULL,
	"diversity_multiplier" double precision NOT NULL,
	"components" jsonb NOT NULL,
	"why" jsonb NOT NULL,
	"formula_version" integer NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "feed_entries_user_id_version_position_pk" PRIMARY KEY("user_id","version","position")
);
--> statement-breakpoint
CREATE TABLE "feed_interactions" (
	"user_id" uuid NOT NULL,
	"item_id" text NOT NULL,
	"viewed_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"liked_at" timestamp with time zone,
	"hidden_at" timestamp with time zone,
	"shared_at" timestamp with time zone,
	CONSTRAINT "feed_interactions_user_id_item_id_pk" PRIMARY KEY("user_id","item_id")
);
--> statement-breakpoint
CREATE TABLE "feed_items" (
	"tenant_id" uuid NOT NULL,
	"item_id" text NOT NULL,
	"kind" text NOT NULL,
	"author_id" text,
	"topics" text[] DEFAULT '{}'::text[] NOT NULL,
	"published_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"title" text,
	"url" text,
	"data" jsonb,
	"views" integer DEFAULT 0 NOT NULL,
	"opens" integer DEFAULT 0 NOT NULL,
	"likes" integer DEFAULT 0 NOT NULL,
	"hides" integer DEFAULT 0 NOT NULL,
	"shares" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "feed_items_tenant_id_item_id_pk" PRIMARY KEY("tenant_id","item_id")
);
--> statement-breakpoint
CREATE TABLE "feed_states" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"computed_at" timestamp with time zone,
	"top" text[] DEFAULT '{}'::text[] NOT NULL,
	"caught_up" boolean DEFAULT false NOT NULL,
	"push_day" date,
	"pushes_today" integer DEFAULT 0 NOT NULL,
	"held_until" timestamp with time zone,
	"held_reason" text,
	"quiet_start" text,
	"quiet_end" text
);
--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "feed" jsonb;--> statement-breakpoint
ALTER TABLE "feed_affinities" ADD CONSTRAINT "feed_affinities_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feed_entries" ADD CONSTRAINT "feed_entries_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feed_interactions" ADD CONSTRAINT "feed_interactions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feed_items" ADD CONSTRAINT "feed_items_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feed_states" ADD CONSTRAINT "feed_states_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "feed_affinities_match_idx" ON "feed_affinities" USING btree ("tenant_id","dimension","key");--> statement-breakpoint
CREATE INDEX "feed_items_recent_idx" ON "feed_items" USING btree ("tenant_id","published_at");--> statement-breakpoint
-- What feeds read of an event's data, for the outbox and the engine: `itemId` (a string of 1 to 200
-- characters) and `topics` (up to 20 distinct strings of 1 to 64 characters); null when neither.
-- Anything else in `data` (or of another shape) is ignored, so no event payload can break the engine.
CREATE FUNCTION pulse_feed_refs(data jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT nullif(jsonb_strip_nulls(jsonb_build_object(
    'itemId', CASE WHEN jsonb_typeof(data -> 'itemId') = 'string' AND length(data ->> 'itemId') BETWEEN 1 AND 200 THEN data -> 'itemId' END,
    'topics', (SELECT jsonb_agg(topic) FROM (
      SELECT DISTINCT topic FROM jsonb_array_elements(CASE WHEN jsonb_typeof(data -> 'topics') = 'array' THEN data -> 'topics' ELSE '[]'::jsonb END) AS element,
        LATERAL (SELECT element #>> '{}' AS topic) AS t
      WHERE jsonb_typeof(element) = 'string' AND length(topic) BETWEEN 1 AND 64
      LIMIT 20) AS topics)
  )), '{}'::jsonb)
$$;

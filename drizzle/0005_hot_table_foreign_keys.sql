ALTER TABLE "boxes" DROP CONSTRAINT "boxes_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "campaign_progress" DROP CONSTRAINT "campaign_progress_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "events" DROP CONSTRAINT "events_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "personal_records" DROP CONSTRAINT "personal_records_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "processed_events" DROP CONSTRAINT "processed_events_event_id_events_id_fk";
--> statement-breakpoint
ALTER TABLE "refresh_tokens" DROP CONSTRAINT "refresh_tokens_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "rewards" DROP CONSTRAINT "rewards_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "streaks" DROP CONSTRAINT "streaks_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "user_missions" DROP CONSTRAINT "user_missions_tenant_id_tenants_id_fk";
--> statement-breakpoint
ALTER TABLE "user_updates" DROP CONSTRAINT "user_updates_user_id_users_id_fk";
--> statement-breakpoint
ALTER TABLE "user_updates" DROP CONSTRAINT "user_updates_tenant_id_tenants_id_fk";

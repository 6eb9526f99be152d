DROP INDEX "user_updates_created_at_idx";--> statement-breakpoint
CREATE INDEX "user_updates_created_at_brin" ON "user_updates" USING brin ("created_at");
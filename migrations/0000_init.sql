CREATE TABLE `block_types` (
	`block_id` text NOT NULL,
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`profile_type` text NOT NULL,
	`min_time` integer NOT NULL,
	`max_time` integer NOT NULL,
	`profiles` integer NOT NULL,
	`samples` integer NOT NULL,
	`total` integer NOT NULL,
	PRIMARY KEY(`block_id`, `profile_type`)
);
--> statement-breakpoint
CREATE INDEX `block_types_by_type_time` ON `block_types` (`tenant`,`profile_type`,`min_time`);--> statement-breakpoint
CREATE TABLE `blocks` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`shard` integer NOT NULL,
	`min_time` integer NOT NULL,
	`max_time` integer NOT NULL,
	`profile_types` text NOT NULL,
	`level` integer DEFAULT 0 NOT NULL,
	`object_key` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`series` integer NOT NULL,
	`profiles` integer NOT NULL,
	`samples` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `blocks_by_service_time` ON `blocks` (`tenant`,`service`,`min_time`);--> statement-breakpoint
CREATE INDEX `blocks_by_tenant_time` ON `blocks` (`tenant`,`max_time`);--> statement-breakpoint
CREATE TABLE `label_stats` (
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`name` text NOT NULL,
	`value` text NOT NULL,
	`hour` integer NOT NULL,
	`profiles` integer NOT NULL,
	`samples` integer NOT NULL,
	`bytes` integer NOT NULL,
	PRIMARY KEY(`tenant`, `service`, `name`, `value`, `hour`)
);
--> statement-breakpoint
CREATE INDEX `label_stats_by_hour` ON `label_stats` (`tenant`,`hour`);--> statement-breakpoint
CREATE TABLE `series` (
	`tenant` text NOT NULL,
	`fingerprint` text NOT NULL,
	`service` text NOT NULL,
	`profile_type` text NOT NULL,
	`labels` text NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	PRIMARY KEY(`tenant`, `fingerprint`)
);
--> statement-breakpoint
CREATE INDEX `series_by_service` ON `series` (`tenant`,`service`,`last_seen`);--> statement-breakpoint
CREATE INDEX `series_by_type` ON `series` (`tenant`,`profile_type`,`last_seen`);--> statement-breakpoint
CREATE TABLE `services` (
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`profile_types` text NOT NULL,
	`spy_names` text NOT NULL,
	`sdk_versions` text NOT NULL,
	`profiles` integer NOT NULL,
	`ingested_bytes` integer NOT NULL,
	PRIMARY KEY(`tenant`, `service`)
);

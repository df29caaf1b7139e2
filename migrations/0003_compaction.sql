CREATE TABLE `compacted_blocks` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`shard` integer NOT NULL,
	`object_key` text NOT NULL,
	`into_id` text NOT NULL,
	`compacted_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `compacted_blocks_by_shard` ON `compacted_blocks` (`tenant`,`service`,`shard`,`compacted_at`);
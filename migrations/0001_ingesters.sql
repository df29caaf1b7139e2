CREATE TABLE `ingesters` (
	`tenant` text NOT NULL,
	`service` text NOT NULL,
	`shard` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`tenant`, `service`, `shard`)
);

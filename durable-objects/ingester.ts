import { DurableObject } from "cloudflare:workers";
import type { Env } from "../workers/env";

export class Ingester extends DurableObject<Env> {}

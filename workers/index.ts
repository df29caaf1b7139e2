import { AutoRouter } from "itty-router";
export { Ingester } from "../durable-objects/ingester";

const router = AutoRouter();
router.get("/ready", () => new Response("ready"));
export default { fetch: router.fetch };

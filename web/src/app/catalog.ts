// The service catalog (GET /api/services) as the Explore and Compare pickers use it: service names
// with their profile types. Services is the page that shows the full records.

import { listServices, servicesByName } from "../api/services";
import { type Loaded, useLoad } from "./data";

export function useCatalog(): Loaded<Map<string, string[]>> {
  return useLoad("services", async (signal) => servicesByName(await listServices(signal)));
}

// The start page: every service of the tenant, with its profile types, when it was last seen, what
// it ingested over the last day (total and per hour) and a way into Explore. The figures include
// what the ingesters have not flushed yet, so a service appears with its first push.

import { preferredProfileType, profileTypeLabel } from "../../api/profile-type";
import { listServices, type ServiceSummary } from "../../api/services";
import { useLoad } from "../data";
import { formatAgo, formatBytes, formatCount } from "../format";
import { exploreHref } from "../links";
import { type Route, updateParams } from "../router";
import { Sparkline } from "../Sparkline";
import { Empty, ErrorState, Loading } from "../states";
import { formatInstant } from "../time";

export function ServicesView({ route }: { route: Route }) {
  const filter = route.params.get("filter") ?? "";
  const services = useLoad("services", listServices);
  return (
    <section class="view" data-testid="services">
      <div class="toolbar">
        <h1 class="view-title">Services</h1>
        <input
          class="input"
          type="search"
          placeholder="Filter services…"
          value={filter}
          data-testid="service-filter"
          onInput={(e) => updateParams(route, { filter: e.currentTarget.value }, { replace: true })}
        />
        {services.status === "ok" && <span class="muted">{services.data.length} services</span>}
      </div>
      <div class="panel">{content()}</div>
    </section>
  );

  function content() {
    if (services.status === "loading") return <Loading what="services" />;
    if (services.status === "error") return <ErrorState what="services" error={services.error} />;
    if (services.data.length === 0) {
      return (
        <Empty>
          No services yet. Point a Pyroscope SDK or Grafana Alloy at this server, or send a pprof:
          <pre>curl --data-binary @cpu.pb.gz '{window.location.origin}/ingest?name=myapp&amp;format=pprof'</pre>
        </Empty>
      );
    }
    const needle = filter.toLowerCase();
    const shown = services.data.filter((s) => s.service.toLowerCase().includes(needle));
    if (shown.length === 0) return <Empty>No service matches “{filter}”.</Empty>;
    const tenants = new Set(services.data.map((s) => s.tenant));
    return <ServicesTable services={shown} showTenant={tenants.size > 1} />;
  }
}

function ServicesTable({ services, showTenant }: { services: readonly ServiceSummary[]; showTenant: boolean }) {
  const now = Date.now();
  return (
    <table class="table" data-testid="services-table">
      <thead>
        <tr>
          <th>Service</th>
          {showTenant && <th>Tenant</th>}
          <th>Profile types</th>
          <th>Sources</th>
          <th>Last seen</th>
          <th class="num">Last 24 h</th>
          <th>Ingest per hour</th>
          <th class="num">Profiles</th>
          <th class="num">Ingested</th>
        </tr>
      </thead>
      <tbody>
        {services.map((s) => (
          <tr key={`${s.tenant}/${s.service}`} data-testid="service-row" data-service={s.service}>
            <td>
              <a class="service-link" href={exploreHref({ service: s.service, type: preferredProfileType(s.profileTypes) })} data-testid="open-explore">
                {s.service}
              </a>
            </td>
            {showTenant && <td>{s.tenant}</td>}
            <td>
              <div class="types">
                {s.profileTypes.length === 0 && <span class="muted">{s.buffered.complete ? "none yet" : "pending first flush"}</span>}
                {s.profileTypes.map((t) => (
                  <a key={t} class="tag" href={exploreHref({ service: s.service, type: t })} title={t}>
                    {profileTypeLabel(t)}
                  </a>
                ))}
              </div>
            </td>
            <td class="muted">{[...s.spyNames, ...s.sdkVersions].join(", ") || "–"}</td>
            <td title={s.lastSeen === null ? undefined : formatInstant(s.lastSeen)}>{formatAgo(s.lastSeen, now)}</td>
            <td class="num">{formatBytes(s.lastDay.bytes.reduce((a, b) => a + b, 0))}</td>
            <td>
              <Sparkline hours={s.lastDay.hours} bytes={s.lastDay.bytes} />
            </td>
            <td class="num" title={bufferedNote(s)} data-testid="service-profiles" data-profiles={s.profiles} data-buffered={s.buffered.profiles}>
              {formatCount(s.profiles)}
            </td>
            <td class="num" title={bufferedNote(s)}>
              {formatBytes(s.ingestedBytes)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Says how much of a row's figures is not flushed yet, and when some of it may be missing. */
function bufferedNote(s: ServiceSummary): string | undefined {
  const notes = [];
  if (s.buffered.profiles > 0) notes.push(`${formatCount(s.buffered.profiles)} profiles (${formatBytes(s.buffered.ingestedBytes)}) not flushed yet`);
  if (!s.buffered.complete) notes.push("pushes since the last flush may be missing: not every ingester was asked");
  return notes.length > 0 ? notes.join("; ") : undefined;
}

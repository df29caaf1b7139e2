// Label filters as Prometheus matchers. The URL keeps the filters beyond the service as a selector
// (`query={env="prod",region=~"eu-.*"}`) — readable, and pasteable into Grafana or profilecli.

export type MatchOp = "=" | "!=" | "=~" | "!~";

export const MATCH_OPS: readonly MatchOp[] = ["=", "!=", "=~", "!~"];

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

export function formatMatcher(m: Matcher): string {
  return `${formatName(m.name)}${m.op}${quote(m.value)}`;
}

export function formatSelector(matchers: readonly Matcher[]): string {
  return `{${matchers.map(formatMatcher).join(",")}}`;
}

/** The selector of a service plus filters, as every query sends it. */
export function serviceSelector(service: string, filters: readonly Matcher[] = []): string {
  return formatSelector([{ name: "service_name", op: "=", value: service }, ...filters]);
}

/**
 * Parses `{a="x", b=~"y"}` (the subset the builder writes: quoted values, legacy or quoted names).
 * Returns null on anything else, so a hand-edited URL shows an error instead of silently
 * querying something different.
 */
export function parseSelector(text: string): Matcher[] | null {
  const s = text.trim();
  if (s === "") return [];
  if (!s.startsWith("{") || !s.endsWith("}")) return null;
  const body = s.slice(1, -1);
  const out: Matcher[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < body.length && /\s/.test(body[i])) i++;
  };
  const readQuoted = (): string | null => {
    if (body[i] !== '"') return null;
    let v = "";
    for (i++; i < body.length; i++) {
      const c = body[i];
      if (c === "\\") {
        const next = body[++i];
        v += next === "n" ? "\n" : next === "t" ? "\t" : next;
      } else if (c === '"') {
        i++;
        return v;
      } else v += c;
    }
    return null;
  };
  skipSpace();
  while (i < body.length) {
    let name: string | null;
    if (body[i] === '"') name = readQuoted();
    else {
      const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(body.slice(i));
      name = m ? m[0] : null;
      if (m) i += m[0].length;
    }
    if (name === null) return null;
    skipSpace();
    const op = (["=~", "!~", "!=", "="] as const).find((o) => body.startsWith(o, i));
    if (!op) return null;
    i += op.length;
    skipSpace();
    const value = readQuoted();
    if (value === null) return null;
    out.push({ name, op, value });
    skipSpace();
    if (body[i] === ",") i++;
    else if (i < body.length) return null;
    skipSpace();
  }
  return out;
}

function formatName(name: string): string {
  return /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name) ? name : quote(name);
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

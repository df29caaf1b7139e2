#!/usr/bin/env node
// `npm run tokens -- <command>`: manage API tokens through the service's admin API, locally or on
// a deployed Worker.
//
//   create --scope read|write|admin --name <name> [--tenant <id>]   prints the token (shown once)
//   list [--tenant <id>]
//   revoke <token id>
//
// Options: --url (default $EDGE_PYROSCOPE_URL or http://127.0.0.1:4040), --admin-token (default
// $EDGE_PYROSCOPE_ADMIN_TOKEN: the Worker's ADMIN_TOKEN secret or a tenant's admin token; not
// needed against `npm start`, which runs open).

const USAGE = `usage: npm run tokens -- create --scope read|write|admin --name <name> [--tenant <id>]
       npm run tokens -- list [--tenant <id>]
       npm run tokens -- revoke <token id>
options: --url <service URL> (default $EDGE_PYROSCOPE_URL or http://127.0.0.1:4040)
         --admin-token <token> (default $EDGE_PYROSCOPE_ADMIN_TOKEN)`;

function parse(argv) {
  const opts = {};
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) fail(`${a} needs a value`);
      opts[a.slice(2)] = value;
      i++;
    } else {
      rest.push(a);
    }
  }
  return { command: rest[0], args: rest.slice(1), opts };
}

function fail(message) {
  console.error(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

async function call(base, token, method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    console.error(`error: cannot reach ${base}: ${err.cause?.message ?? err.message}. Is the service running (npm start) and is --url right?`);
    process.exit(1);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message ?? text;
    } catch {
      // not JSON: show the body as it is
    }
    const hint = res.status === 401 ? " (pass --admin-token or set EDGE_PYROSCOPE_ADMIN_TOKEN)" : "";
    console.error(`error: ${method} ${path} → HTTP ${res.status}: ${message}${hint}`);
    process.exit(1);
  }
  return text ? JSON.parse(text) : null;
}

async function main() {
  const { command, args, opts } = parse(process.argv.slice(2));
  const base = opts.url ?? process.env.EDGE_PYROSCOPE_URL ?? "http://127.0.0.1:4040";
  const token = opts["admin-token"] ?? process.env.EDGE_PYROSCOPE_ADMIN_TOKEN;
  switch (command) {
    case "create": {
      if (!opts.scope || !opts.name) fail("create needs --scope and --name");
      const t = await call(base, token, "POST", "/api/admin/tokens", { scope: opts.scope, name: opts.name, tenant: opts.tenant });
      console.log(`Created ${t.scope} token "${t.name}" (id ${t.id}) for tenant ${t.tenant}. It is shown only once:\n\n${t.token}\n`);
      console.log(`Use it as "Authorization: Bearer <token>", or as Basic auth with user ${t.tenant} and the token as password.`);
      break;
    }
    case "list": {
      const q = opts.tenant ? `?tenant=${encodeURIComponent(opts.tenant)}` : "";
      const { tokens } = await call(base, token, "GET", `/api/admin/tokens${q}`);
      if (tokens.length === 0) console.log("No tokens.");
      for (const t of tokens) {
        const state = t.revokedAt ? `revoked ${new Date(t.revokedAt).toISOString()}` : "live";
        console.log(`${t.id}  ${t.tenant}  ${t.scope.padEnd(5)}  ${state.padEnd(32)}  ${t.name}`);
      }
      break;
    }
    case "revoke": {
      if (args.length !== 1) fail("revoke needs the token id (see list)");
      await call(base, token, "DELETE", `/api/admin/tokens/${encodeURIComponent(args[0])}`);
      console.log(`Revoked ${args[0]}; it stops working with the next request.`);
      break;
    }
    default:
      fail(command ? `unknown command ${command}` : "name a command");
  }
}

main();

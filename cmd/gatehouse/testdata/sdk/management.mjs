// Drives Gatehouse's /api/v2 with Auth0's own Node.js SDK, unmodified:
// the current ManagementClient (package "auth0") and the v4 one it still
// ships as "auth0/legacy", which most existing scripts use.
//
// Run by TestAuth0ManagementSDK (cmd/gatehouse/sdk_auth0_test.go), which
// starts Gatehouse over https and sets:
//   GATEHOUSE_DOMAIN         host:port; the SDK calls https://{domain}/oauth/token
//                            for audience https://{domain}/api/v2/
//   GATEHOUSE_CLIENT_ID      an m2m application with a client grant for that
//   GATEHOUSE_CLIENT_SECRET  audience and every scope the steps need
//   GATEHOUSE_SDK_GROUPS     comma-separated groups of steps to run
//   NODE_EXTRA_CA_CERTS      the test CA that issued the server's certificate
//
// Each step prints one JSON line: {"group","step","ok","result"} on
// success, or {"group","step","ok":false,"error","exchange"} with the last
// HTTP exchange (request and response, secrets left out) on failure. A
// failed step ends its group (later steps depend on it); other groups go on.
// Steps named "*.refused" expect the call to fail: their result is the
// error's status, body and content type, and the Go test checks them.

import { ManagementClient, ManagementError } from "auth0";
import { ManagementClient as LegacyManagementClient } from "auth0/legacy";

const domain = need("GATEHOUSE_DOMAIN");
const clientId = need("GATEHOUSE_CLIENT_ID");
const clientSecret = need("GATEHOUSE_CLIENT_SECRET");
const groups = (process.env.GATEHOUSE_SDK_GROUPS ?? "").split(",").filter(Boolean);
const issuer = `https://${domain}`;
const managementAudience = `${issuer}/api/v2/`;
const databaseConnection = "Username-Password-Authentication";

function need(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`management.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
}

// lastExchange is the most recent HTTP request and response the SDK made,
// printed with a failing step so a difference from what the SDK expects is
// reported with the exact exchange.
let lastExchange = null;

async function recordingFetch(input, init = {}) {
  const url = typeof input === "string" ? input : input.url;
  const exchange = { request: { method: init.method ?? "GET", url, contentType: header(init.headers, "content-type") } };
  if (typeof init.body === "string") {
    // The token request carries the client secret: show its parameters' names only.
    exchange.request.body = url.endsWith("/oauth/token") ? [...new URLSearchParams(init.body).keys()].join("&") : redact(init.body);
  } else if (init.body != null) {
    exchange.request.body = `(${init.body.constructor?.name ?? typeof init.body})`;
  }
  lastExchange = exchange;
  const res = await fetch(input, init);
  let body = await res.clone().text();
  if (url.endsWith("/oauth/token") && res.ok) {
    body = "(token response)";
  }
  exchange.response = { status: res.status, contentType: res.headers.get("content-type"), body: redact(body).slice(0, 2000) };
  return res;
}

// redact hides passwords and secrets in a JSON body kept for a report.
function redact(text) {
  return text.replace(/("(?:password|client_secret)"\s*:\s*)"[^"]*"/g, '$1"(redacted)"');
}

function header(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return v;
  }
  return undefined;
}

// The SDK retries 429 and 5xx with backoff by default: off, so an error
// shows at once and as itself.
const mgmt = new ManagementClient({ domain, clientId, clientSecret, maxRetries: 0, timeoutInSeconds: 30, fetch: recordingFetch });
const legacy = new LegacyManagementClient({ domain, clientId, clientSecret, retry: { enabled: false }, fetch: recordingFetch });

class StepFailed extends Error {}

function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

function describe(e) {
  if (e instanceof ManagementError) {
    return {
      name: e.name,
      statusCode: e.statusCode,
      body: e.body,
      contentType: e.rawResponse?.headers?.get?.("content-type") ?? null,
    };
  }
  // The v4 client's ManagementApiError and anything else.
  const out = { name: e?.name ?? typeof e, message: String(e?.message ?? e).split("\n")[0] };
  if (e?.statusCode !== undefined) out.statusCode = e.statusCode;
  if (e?.body !== undefined) {
    try {
      out.body = typeof e.body === "string" ? JSON.parse(e.body) : e.body;
    } catch {
      out.body = e.body;
    }
  }
  if (e?.cause) out.cause = String(e.cause?.message ?? e.cause);
  return out;
}

// step runs fn and prints its result; a thrown error fails the group.
async function step(group, name, fn) {
  lastExchange = null;
  let result;
  try {
    result = await fn();
  } catch (e) {
    emit({ group, step: name, ok: false, error: describe(e), exchange: lastExchange });
    throw new StepFailed(name);
  }
  emit({ group, step: name, ok: true, result: result ?? null });
  return result;
}

// refused runs fn, which must fail: the result is the error.
async function refused(group, name, fn) {
  lastExchange = null;
  let value;
  try {
    value = await fn();
  } catch (e) {
    const d = describe(e);
    if (lastExchange?.response) d.contentType = lastExchange.response.contentType;
    emit({ group, step: name, ok: true, result: d });
    return d;
  }
  emit({ group, step: name, ok: false, error: { message: "the call succeeded, an error was expected", value: value ?? null }, exchange: lastExchange });
  throw new StepFailed(name);
}

// probe runs fn like step, but its failure does not end the group: it
// asks for an Auth0 field or behaviour Gatehouse may not have, and the Go
// test lists the known differences (sdkKnownDifferences).
async function probe(group, name, fn) {
  try {
    await step(group, name, fn);
    return true;
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
    return false;
  }
}

// page is what the test needs of a page of results: its items, and the
// response around them (start, limit, length, total).
function page(p) {
  const response = { ...p.response };
  for (const k of Object.keys(response)) {
    if (Array.isArray(response[k])) response[k] = `(${response[k].length} items)`;
  }
  return { items: p.data, response };
}

// ---- groups ----

async function users(g) {
  const email = "sdk.user@example.com";
  const created = await step(g, "users.create", () =>
    mgmt.users.create({
      connection: databaseConnection,
      email: "SDK.User@Example.com",
      password: "a long and unusual passphrase 42",
      name: "SDK User",
      given_name: "Sdk",
      family_name: "User",
      email_verified: true,
      user_metadata: { theme: "dark" },
      app_metadata: { plan: "gold" },
    }),
  );
  const id = created.user_id;
  await refused(g, "users.create.duplicate.refused", () =>
    mgmt.users.create({ connection: databaseConnection, email, password: "another long passphrase 43" }),
  );
  await refused(g, "users.create.no_connection.refused", () => mgmt.users.create({ email: "x@example.com", password: "another long passphrase 43" }));
  await refused(g, "users.create.unknown_field.refused", () =>
    mgmt.users.create({ connection: databaseConnection, email: "y@example.com", password: "another long passphrase 43", favourite_colour: "blue" }),
  );
  await step(g, "users.get", () => mgmt.users.get(id));
  await step(g, "users.list.q", async () => page(await mgmt.users.list({ q: `email:"${email}"`, search_engine: "v3" })));
  await step(g, "users.list.page", async () => page(await mgmt.users.list({ page: 0, per_page: 1, include_totals: true })));
  await step(g, "users.listUsersByEmail", () => mgmt.users.listUsersByEmail({ email }));
  await step(g, "users.update", () => mgmt.users.update(id, { name: "Renamed User", user_metadata: { lang: "fr" }, blocked: true }));
  await step(g, "users.update.password", () => mgmt.users.update(id, { password: "a brand new passphrase 44", connection: databaseConnection }));
  await step(g, "users.delete", () => mgmt.users.delete(id));
  await refused(g, "users.get.deleted.refused", () => mgmt.users.get(id));
}

async function clients(g) {
  const created = await step(g, "clients.create", () =>
    mgmt.clients.create({
      name: "SDK App",
      app_type: "regular_web",
      callbacks: ["https://app.example.com/callback"],
      allowed_logout_urls: ["https://app.example.com/"],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "client_secret_post",
    }),
  );
  const id = created.client_id;
  await refused(g, "clients.create.unknown_field.refused", () => mgmt.clients.create({ name: "Bad", favourite_colour: "blue" }));
  await step(g, "clients.get", () => mgmt.clients.get(id));
  await step(g, "clients.list", async () => page(await mgmt.clients.list({ page: 0, per_page: 50, include_totals: true })));
  await step(g, "clients.update", () =>
    mgmt.clients.update(id, { name: "SDK App Renamed", callbacks: ["https://app.example.com/callback", "https://app.example.com/cb2"] }),
  );
  await step(g, "clients.rotateSecret", () => mgmt.clients.rotateSecret(id));
  await step(g, "clients.create.m2m", () => mgmt.clients.create({ name: "SDK Backend", app_type: "non_interactive" }));
  await step(g, "clients.delete", () => mgmt.clients.delete(id));
  await refused(g, "clients.get.deleted.refused", () => mgmt.clients.get(id));
}

async function clientGrants(g) {
  const backend = await step(g, "clientGrants.setup.client", () =>
    mgmt.clients.create({ name: "SDK Limited Backend", app_type: "non_interactive", grant_types: ["client_credentials"] }),
  );
  const grant = await step(g, "clientGrants.create", () =>
    mgmt.clientGrants.create({ client_id: backend.client_id, audience: managementAudience, scope: ["read:users"] }),
  );
  await step(g, "clientGrants.list", async () => page(await mgmt.clientGrants.list({ client_id: backend.client_id })));
  // The limited backend gets its own token: it may read users, not create them.
  const limited = new ManagementClient({ domain, clientId: backend.client_id, clientSecret: backend.client_secret, maxRetries: 0, fetch: recordingFetch });
  await step(g, "clientGrants.limited.users.list", async () => page(await limited.users.list({ per_page: 5 })));
  await refused(g, "clientGrants.limited.users.create.refused", () =>
    limited.users.create({ connection: databaseConnection, email: "limited@example.com", password: "a long and unusual passphrase 45" }),
  );
  await step(g, "clientGrants.update", () => mgmt.clientGrants.update(grant.id, { scope: ["read:users", "create:users"] }));
  await step(g, "clientGrants.delete", () => mgmt.clientGrants.delete(grant.id));
  await step(g, "clientGrants.cleanup", () => mgmt.clients.delete(backend.client_id));
}

async function connections(g) {
  const app = await step(g, "connections.setup.client", () =>
    mgmt.clients.create({ name: "SDK Connections App", app_type: "regular_web", callbacks: ["https://app.example.com/callback"] }),
  );
  const builtIn = await step(g, "connections.list.database", async () => page(await mgmt.connections.list({ name: databaseConnection })));
  await step(g, "connections.get.database", () => mgmt.connections.get(builtIn.items[0]?.id));
  const upstream = {
    issuer: "https://upstream.example.com",
    client_id: "upstream-client",
    client_secret: "upstream-secret-value",
    scope: "openid profile email",
  };
  const oidc = await step(g, "connections.create", () => mgmt.connections.create({ name: "sdk-oidc", strategy: "oidc", options: upstream }));
  await refused(g, "connections.create.duplicate.refused", () => mgmt.connections.create({ name: "sdk-oidc", strategy: "oidc", options: upstream }));
  await step(g, "connections.get", () => mgmt.connections.get(oidc.id));
  await step(g, "connections.list", async () => page(await mgmt.connections.list({ strategy: ["oidc"] })));
  await step(g, "connections.update", () =>
    mgmt.connections.update(oidc.id, { options: { ...upstream, client_secret: "rotated-upstream-secret", scope: "openid email" } }),
  );
  await step(g, "connections.clients.update", () => mgmt.connections.clients.update(oidc.id, [{ client_id: app.client_id, status: true }]));
  await step(g, "connections.clients.get", async () => page(await mgmt.connections.clients.get(oidc.id)));
  // What Auth0's connections have and Gatehouse's may not.
  const createAndDelete = async (body) => {
    const c = await mgmt.connections.create(body);
    await mgmt.connections.delete(c.id);
    return c;
  };
  await probe(g, "connections.create.database", () => createAndDelete({ name: "sdk-database", strategy: "auth0" }));
  await probe(g, "connections.create.display_name", () =>
    createAndDelete({ name: "sdk-oidc-named", strategy: "oidc", display_name: "SDK Upstream", options: upstream }),
  );
  await probe(g, "connections.create.oidc_type_jwks_uri", () =>
    createAndDelete({
      name: "sdk-oidc-typed",
      strategy: "oidc",
      options: { ...upstream, type: "back_channel", jwks_uri: "https://upstream.example.com/.well-known/jwks.json" },
    }),
  );
  await step(g, "connections.delete", () => mgmt.connections.delete(oidc.id));
  await refused(g, "connections.get.deleted.refused", () => mgmt.connections.get(oidc.id));
  await step(g, "connections.cleanup", () => mgmt.clients.delete(app.client_id));
}

async function resourceServers(g) {
  const rs = await step(g, "resourceServers.create", () =>
    mgmt.resourceServers.create({
      identifier: "https://sdk-api.example.com",
      name: "SDK API",
      scopes: [{ value: "read:things", description: "Read things" }],
      signing_alg: "RS256",
      token_lifetime: 3600,
      allow_offline_access: false,
      enforce_policies: true,
      token_dialect: "access_token_authz",
    }),
  );
  await step(g, "resourceServers.get", () => mgmt.resourceServers.get(rs.id));
  await step(g, "resourceServers.get.management", () => mgmt.resourceServers.get(managementAudience));
  await step(g, "resourceServers.list", async () => page(await mgmt.resourceServers.list({ include_totals: true })));
  await step(g, "resourceServers.update", () =>
    mgmt.resourceServers.update(rs.id, {
      scopes: [
        { value: "read:things", description: "Read things" },
        { value: "write:things", description: "Write things" },
      ],
      token_lifetime: 600,
    }),
  );
  await step(g, "resourceServers.delete", () => mgmt.resourceServers.delete(rs.id));
  await refused(g, "resourceServers.get.deleted.refused", () => mgmt.resourceServers.get(rs.id));
}

async function roles(g) {
  const api = "https://sdk-rbac.example.com";
  const rs = await step(g, "roles.setup.resourceServer", () =>
    mgmt.resourceServers.create({ identifier: api, name: "SDK RBAC API", scopes: [{ value: "read:reports" }, { value: "write:reports" }] }),
  );
  const user = await step(g, "roles.setup.user", () =>
    mgmt.users.create({ connection: databaseConnection, email: "sdk.roles@example.com", password: "a long and unusual passphrase 46" }),
  );
  const role = await step(g, "roles.create", () => mgmt.roles.create({ name: "sdk-reporter", description: "Reads reports" }));
  await step(g, "roles.get", () => mgmt.roles.get(role.id));
  await step(g, "roles.list", async () => page(await mgmt.roles.list({ name_filter: "sdk-", include_totals: true })));
  await step(g, "roles.update", () => mgmt.roles.update(role.id, { description: "Reads and writes reports" }));
  await step(g, "roles.permissions.add", () =>
    mgmt.roles.permissions.add(role.id, {
      permissions: [
        { resource_server_identifier: api, permission_name: "read:reports" },
        { resource_server_identifier: api, permission_name: "write:reports" },
      ],
    }),
  );
  await step(g, "roles.permissions.list", async () => page(await mgmt.roles.permissions.list(role.id, { include_totals: true })));
  await step(g, "roles.users.assign", () => mgmt.roles.users.assign(role.id, { users: [user.user_id] }));
  await step(g, "roles.users.list", async () => page(await mgmt.roles.users.list(role.id)));
  await step(g, "users.roles.list", async () => page(await mgmt.users.roles.list(user.user_id, { include_totals: true })));
  await step(g, "users.permissions.list", async () => page(await mgmt.users.permissions.list(user.user_id, { include_totals: true })));
  await step(g, "roles.permissions.delete", () =>
    mgmt.roles.permissions.delete(role.id, { permissions: [{ resource_server_identifier: api, permission_name: "write:reports" }] }),
  );
  await step(g, "users.roles.delete", () => mgmt.users.roles.delete(user.user_id, { roles: [role.id] }));
  await step(g, "roles.delete", () => mgmt.roles.delete(role.id));
  await refused(g, "roles.get.deleted.refused", () => mgmt.roles.get(role.id));
  await step(g, "roles.cleanup", async () => {
    await mgmt.users.delete(user.user_id);
    await mgmt.resourceServers.delete(rs.id);
  });
}

async function organizations(g) {
  const user = await step(g, "organizations.setup.user", () =>
    mgmt.users.create({ connection: databaseConnection, email: "sdk.member@example.com", password: "a long and unusual passphrase 47" }),
  );
  const app = await step(g, "organizations.setup.client", () =>
    mgmt.clients.create({
      name: "SDK Org App",
      app_type: "regular_web",
      callbacks: ["https://app.example.com/callback"],
      initiate_login_uri: "https://app.example.com/login",
      organization_usage: "allow",
    }),
  );
  const conns = await step(g, "organizations.setup.connection", async () => page(await mgmt.connections.list({ name: databaseConnection })));
  const connectionId = conns.items[0]?.id;
  const org = await step(g, "organizations.create", () =>
    mgmt.organizations.create({ name: "sdk-org", display_name: "SDK Org", metadata: { tier: "gold" } }),
  );
  await step(g, "organizations.get", () => mgmt.organizations.get(org.id));
  await step(g, "organizations.getByName", () => mgmt.organizations.getByName("sdk-org"));
  await step(g, "organizations.list", async () => page(await mgmt.organizations.list({ include_totals: true })));
  await step(g, "organizations.update", () => mgmt.organizations.update(org.id, { display_name: "SDK Org Renamed" }));
  await step(g, "organizations.enabledConnections.add", () =>
    mgmt.organizations.enabledConnections.add(org.id, { connection_id: connectionId, assign_membership_on_login: false }),
  );
  await step(g, "organizations.enabledConnections.list", async () => page(await mgmt.organizations.enabledConnections.list(org.id)));
  await step(g, "organizations.members.create", () => mgmt.organizations.members.create(org.id, { members: [user.user_id] }));
  await step(g, "organizations.members.list", async () => page(await mgmt.organizations.members.list(org.id)));
  const inv = await step(g, "organizations.invitations.create", () =>
    mgmt.organizations.invitations.create(org.id, {
      inviter: { name: "SDK Admin" },
      invitee: { email: "sdk.invitee@example.com" },
      client_id: app.client_id,
      connection_id: connectionId,
      send_invitation_email: false,
      ttl_sec: 3600,
    }),
  );
  await step(g, "organizations.invitations.list", async () => page(await mgmt.organizations.invitations.list(org.id)));
  await step(g, "organizations.invitations.get", () => mgmt.organizations.invitations.get(org.id, inv.id));
  await step(g, "organizations.invitations.delete", () => mgmt.organizations.invitations.delete(org.id, inv.id));
  await step(g, "organizations.members.delete", () => mgmt.organizations.members.delete(org.id, { members: [user.user_id] }));
  await step(g, "organizations.delete", () => mgmt.organizations.delete(org.id));
  await refused(g, "organizations.get.deleted.refused", () => mgmt.organizations.get(org.id));
  await step(g, "organizations.cleanup", async () => {
    await mgmt.users.delete(user.user_id);
    await mgmt.clients.delete(app.client_id);
  });
}

async function tickets(g) {
  const user = await step(g, "tickets.setup.user", () =>
    mgmt.users.create({ connection: databaseConnection, email: "sdk.ticket@example.com", password: "a long and unusual passphrase 48" }),
  );
  await step(g, "tickets.changePassword", () =>
    mgmt.tickets.changePassword({ user_id: user.user_id, result_url: "https://app.example.com/", ttl_sec: 3600 }),
  );
  await step(g, "tickets.verifyEmail", () => mgmt.tickets.verifyEmail({ user_id: user.user_id, result_url: "https://app.example.com/" }));
  await step(g, "tickets.cleanup", () => mgmt.users.delete(user.user_id));
}

async function jobs(g) {
  const conns = await step(g, "jobs.setup.connection", async () => page(await mgmt.connections.list({ name: databaseConnection })));
  const connectionId = conns.items[0]?.id;
  // Auth0's bulk import format, with a bcrypt hash as Auth0 exports it
  // (this one is of "correct horse battery"), a plain user and a bad row.
  const users = [
    {
      email: "sdk.import1@example.com",
      email_verified: true,
      name: "Imported One",
      user_metadata: { source: "sdk" },
      custom_password_hash: {
        algorithm: "bcrypt",
        hash: { value: "$2b$10$xAZkgCyioXUsEa6QtPGgjuyHlE8lc1bPXXPQ.UGGalSbmYVYReCKu" },
      },
    },
    { email: "sdk.import2@example.com", email_verified: false, name: "Imported Two" },
    // A row Auth0's schema refuses: reported by jobs.errors, the others imported.
    { email: "not-an-email", name: "Broken Row" },
  ];
  const file = new File([JSON.stringify(users)], "users.json", { type: "application/json" });
  const job = await step(g, "jobs.usersImports.create", () =>
    mgmt.jobs.usersImports.create({ users: file, connection_id: connectionId, upsert: false, send_completion_email: false }),
  );
  await step(g, "jobs.get", async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const j = await mgmt.jobs.get(job.id);
      if (j.status !== "pending" && j.status !== "processing") return j;
      if (Date.now() > deadline) throw new Error(`job ${job.id} still ${j.status} after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  await step(g, "jobs.errors.get", () => mgmt.jobs.errors.get(job.id));
  await step(g, "jobs.imported.users.list", async () => page(await mgmt.users.list({ q: `email:"sdk.import1@example.com"`, search_engine: "v3" })));
}

async function keys(g) {
  const list = await step(g, "keys.signing.list", () => mgmt.keys.signing.list());
  const current = list.find((k) => k.current) ?? list[0];
  await step(g, "keys.signing.get", () => mgmt.keys.signing.get(current?.kid));
  // The SDK's SigningKeys type requires cert (PEM), fingerprint, thumbprint.
  await probe(g, "keys.signing.cert", async () => {
    if (typeof current?.cert !== "string" || !current.cert.startsWith("-----BEGIN CERTIFICATE-----")) {
      throw new Error(`the current key has no PEM cert (fields: ${Object.keys(current ?? {}).join(", ")})`);
    }
    return { cert: current.cert.slice(0, 27) };
  });
  // A server that just started generated its next key moments ago.
  await probe(g, "keys.signing.rotate", () => mgmt.keys.signing.rotate());
  await refused(g, "keys.signing.get.unknown.refused", () => mgmt.keys.signing.get("no-such-kid"));
}

async function logs(g) {
  const list = await step(g, "logs.list", async () => page(await mgmt.logs.list({ per_page: 10, include_totals: true })));
  await step(g, "logs.get", () => mgmt.logs.get(list.items[0]?.log_id));
}

// legacy drives the same users and clients with the v4 client, whose
// answers come wrapped as {data, headers, status}.
async function legacyV4(g) {
  const unwrap = (r) => ({ status: r.status, data: r.data });
  const user = await step(g, "legacy.users.create", async () =>
    unwrap(
      await legacy.users.create({
        connection: databaseConnection,
        email: "sdk.legacy@example.com",
        password: "a long and unusual passphrase 49",
        name: "Legacy User",
      }),
    ),
  );
  const id = user.data.user_id;
  await step(g, "legacy.users.get", async () => unwrap(await legacy.users.get({ id })));
  await step(g, "legacy.users.getAll", async () =>
    unwrap(await legacy.users.getAll({ q: `email:"sdk.legacy@example.com"`, search_engine: "v3", include_totals: true })),
  );
  await step(g, "legacy.users.getAll.array", async () => unwrap(await legacy.users.getAll({ q: `email:"sdk.legacy@example.com"` })));
  await step(g, "legacy.users.update", async () => unwrap(await legacy.users.update({ id }, { name: "Legacy Renamed", app_metadata: { plan: "silver" } })));
  await step(g, "legacy.users.delete", async () => unwrap(await legacy.users.delete({ id })));

  const spa = await step(g, "legacy.clients.create.spa", async () =>
    unwrap(await legacy.clients.create({ name: "Legacy SPA", app_type: "spa", callbacks: ["https://spa.example.com/"] })),
  );
  const client = await step(g, "legacy.clients.create", async () =>
    unwrap(await legacy.clients.create({ name: "Legacy App", app_type: "regular_web", callbacks: ["https://app.example.com/callback"] })),
  );
  const client_id = client.data.client_id;
  await step(g, "legacy.clients.get", async () => unwrap(await legacy.clients.get({ client_id })));
  await step(g, "legacy.clients.getAll", async () => unwrap(await legacy.clients.getAll({ include_totals: true })));
  await step(g, "legacy.clients.update", async () => unwrap(await legacy.clients.update({ client_id }, { name: "Legacy App Renamed" })));
  await step(g, "legacy.clients.rotateClientSecret", async () => unwrap(await legacy.clients.rotateClientSecret({ client_id })));
  await step(g, "legacy.clients.delete", async () => unwrap(await legacy.clients.delete({ client_id })));
  await step(g, "legacy.clients.cleanup", async () => unwrap(await legacy.clients.delete({ client_id: spa.data.client_id })));
}

// errors checks the refusals every call can get: a token that is not one.
async function errors(g) {
  const forged = new ManagementClient({ domain, token: "not-a-token", maxRetries: 0, fetch: recordingFetch });
  await refused(g, "errors.bad_token.refused", () => forged.users.list());
  const wrongSecret = new ManagementClient({ domain, clientId, clientSecret: "not-the-secret", maxRetries: 0, fetch: recordingFetch });
  await refused(g, "errors.wrong_secret.refused", () => wrongSecret.users.list());
}

const all = {
  users,
  clients,
  "client-grants": clientGrants,
  connections,
  "resource-servers": resourceServers,
  roles,
  organizations,
  tickets,
  jobs,
  keys,
  logs,
  legacy: legacyV4,
  errors,
};

let failed = false;
for (const g of groups) {
  const run = all[g];
  if (!run) {
    console.error(`management.mjs: unknown group ${g}; known: ${Object.keys(all).join(", ")}`);
    process.exit(2);
  }
  try {
    await run(g);
    emit({ group: g, step: `${g}.done`, ok: true, result: null });
  } catch (e) {
    failed = true;
    if (!(e instanceof StepFailed)) {
      emit({ group: g, step: `${g}.crashed`, ok: false, error: { message: String(e?.stack ?? e) }, exchange: lastExchange });
    }
  }
}
process.exit(failed ? 1 : 0);

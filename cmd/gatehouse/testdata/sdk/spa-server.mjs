// A single-page app built with Auth0's own @auth0/auth0-spa-js, unmodified
// (its browser bundle, served from node_modules), pointed at Gatehouse.
//
// Run by TestAuth0SPASDK (cmd/gatehouse/sdk_apps_test.go), which starts
// Gatehouse over https and sets:
//   GATEHOUSE_DOMAIN     host:port of Gatehouse; the SDK uses https://{domain}/
//   GATEHOUSE_CLIENT_ID  the spa application's client id
//   APP_PORT             the loopback port to listen on; the app's origin is
//                        http://localhost:{port}, a secure context
//   APP_TLS_CERT, APP_TLS_KEY  when set, the app serves https with them, so
//                        that it can be same-site with Gatehouse
//
// GET / serves the app, and GET /refresh the same app with
// useRefreshTokens; each is its own callback URL. The page
// handles the redirect back from Gatehouse, then shows
// {"authenticated","user"} in #ready; the test calls window.spa.call(name)
// for the SDK's other methods, which resolves to a JSON string
// {"ok":true,"value":…} or {"ok":false,"error":…,"description":…}.

import { createServer } from "node:http";
import { createServer as createTLSServer } from "node:https";
import { readFile } from "node:fs/promises";

const port = Number(process.env.APP_PORT);
const domain = process.env.GATEHOUSE_DOMAIN;
const clientId = process.env.GATEHOUSE_CLIENT_ID;
const bundle = await readFile(new URL("./node_modules/@auth0/auth0-spa-js/dist/auth0-spa-js.production.js", import.meta.url));

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>SPA</title>
<script src="/auth0-spa-js.js"></script></head>
<body>
<script>
(async function () {
  const useRefreshTokens = location.pathname === "/refresh";
  const client = await auth0.createAuth0Client({
    domain: ${JSON.stringify(domain)},
    clientId: ${JSON.stringify(clientId)},
    useRefreshTokens,
    authorizationParams: { redirect_uri: location.origin + location.pathname },
  });
  const show = (id, v) => {
    const pre = document.createElement("pre");
    pre.id = id;
    pre.textContent = JSON.stringify(v);
    document.body.appendChild(pre);
  };
  const settle = (p) => p.then(
    (value) => JSON.stringify({ ok: true, value: value === undefined ? null : value }),
    (e) => JSON.stringify({ ok: false, error: e.error || String(e), description: e.error_description || e.message }));
  window.spa = {
    call(name, arg) {
      if (name === "getTokenSilently") {
        return settle(client.getTokenSilently({ cacheMode: "off", detailedResponse: true, ...arg }));
      }
      return settle(client[name](arg));
    },
  };
  const q = new URLSearchParams(location.search);
  if (q.has("code") || q.has("error")) {
    try {
      await client.handleRedirectCallback();
    } catch (e) {
      show("callback-error", { error: e.error || String(e), description: e.error_description || e.message });
    }
  }
  show("ready", { authenticated: await client.isAuthenticated(), user: (await client.getUser()) || null });
})().catch((e) => {
  const pre = document.createElement("pre");
  pre.id = "callback-error";
  pre.textContent = JSON.stringify({ error: String(e) });
  document.body.appendChild(pre);
});
</script>
</body></html>`;

const handler = (req, res) => {
  const path = new URL(req.url, "http://localhost").pathname;
  if (path === "/auth0-spa-js.js") {
    res.writeHead(200, { "Content-Type": "text/javascript" });
    res.end(bundle);
  } else if (path === "/" || path === "/refresh") {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store" });
    res.end(page);
  } else {
    res.writeHead(404);
    res.end();
  }
};

const server = process.env.APP_TLS_CERT
  ? createTLSServer({ cert: await readFile(process.env.APP_TLS_CERT), key: await readFile(process.env.APP_TLS_KEY) }, handler)
  : createServer(handler);
server.listen(port, "127.0.0.1", () => console.log("listening"));

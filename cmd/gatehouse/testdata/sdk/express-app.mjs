// An Express app built from Auth0's Express quickstart with Auth0's own
// express-openid-connect, unmodified, pointed at Gatehouse.
//
// Run by TestAuth0ExpressSDK (cmd/gatehouse/sdk_apps_test.go), which starts
// Gatehouse over https and sets:
//   GATEHOUSE_ISSUER        the issuer, with the trailing slash Auth0 tenants have
//   GATEHOUSE_CLIENT_ID     the application's client id
//   GATEHOUSE_CLIENT_SECRET with it, the code flow with offline_access;
//                           without it, the quickstart as written (its
//                           defaults: response_type id_token, form_post)
//   APP_PORT                the loopback port to listen on
//   NODE_EXTRA_CA_CERTS     the test CA that issued Gatehouse's certificate
//
// It prints "listening" when it accepts requests. Its pages show what the
// SDK returns in elements with ids, which the test reads in Chromium.

import express from "express";
import expressOpenIdConnect from "express-openid-connect";

const { auth, requiresAuth } = expressOpenIdConnect;
const port = Number(process.env.APP_PORT);
const baseURL = `http://localhost:${port}`;
const secret = process.env.GATEHOUSE_CLIENT_SECRET;

const config = {
  authRequired: false,
  auth0Logout: true,
  secret: "a long, randomly-generated string stored in env",
  baseURL,
  clientID: process.env.GATEHOUSE_CLIENT_ID,
  issuerBaseURL: process.env.GATEHOUSE_ISSUER,
};
if (secret) {
  // The quickstart's "get an access token" variant.
  config.clientSecret = secret;
  config.authorizationParams = { response_type: "code", scope: "openid profile email offline_access" };
  // Back-channel logout (POST /backchannel-logout), with the smallest
  // store the SDK accepts: what the logout tokens ended, in memory.
  const ended = new Map();
  config.backchannelLogout = {
    store: {
      get: (id, cb) => cb(null, ended.get(id)),
      set: (id, v, cb) => { ended.set(id, v); cb(null); },
      destroy: (id, cb) => { ended.delete(id); cb(null); },
    },
  };
}

const app = express();
app.use(auth(config));

const page = (body) => `<!doctype html><html><body>${body}</body></html>`;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const pre = (id, v) => `<pre id="${id}">${esc(JSON.stringify(v))}</pre>`;

app.get("/", (req, res) => {
  res.send(page(`<p id="authenticated">${req.oidc.isAuthenticated() ? "yes" : "no"}</p>` +
    (req.oidc.user ? pre("user", req.oidc.user) : "")));
});

app.get("/profile", requiresAuth(), (req, res) => {
  res.send(page(pre("user", req.oidc.user) + pre("claims", req.oidc.idTokenClaims)));
});

app.get("/tokens", requiresAuth(), async (req, res, next) => {
  try {
    const before = req.oidc.accessToken;
    const refreshed = await before.refresh();
    const after = req.oidc.accessToken;
    const info = await req.oidc.fetchUserInfo();
    res.send(page(pre("tokens", {
      had_access_token: !!before?.access_token,
      had_refresh_token: !!req.oidc.refreshToken,
      refreshed: refreshed.access_token !== before.access_token,
      bearer: /^bearer$/i.test(after.token_type),
      expires_in: after.expires_in > 0,
      same_after: after.access_token === refreshed.access_token,
    }) + pre("userinfo", info)));
  } catch (err) {
    next(err);
  }
});

app.use((err, req, res, next) => {
  res.status(err.status || 500).send(page(pre("error", { message: err.message, error: err.error, status: err.status })));
});

app.listen(port, "127.0.0.1", () => console.log("listening"));

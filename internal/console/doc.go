// Package console serves the admin console at /admin: server-rendered pages
// for operators who hold an admin role, signed in through the server's own
// hosted login, each of whose actions is a call of the management API
// (/api/v2) made in-process with a short-lived token minted for the admin.
//
// Adding a page (apps.go is the model to copy):
//
//   - Routes: a file per resource (users.go) with a method that registers
//     its routes with c.page("GET "+Prefix+"/users", c.usersList), and one
//     line calling it in routes() (console.go). c.page checks the session,
//     the admin role (at every request) and, for a POST, the CSRF token,
//     then calls the handler with a *Request.
//   - Handlers are func(w, rq *Request) error. rq.API.Get/Post/Patch/Delete
//     call /api/v2 (paths without the prefix, JSON in and out); an error is
//     an *APIError. Return it for a page of its own (404, 403 of a
//     read-only admin), or, on a form, p.FormError(err, fields...) puts a
//     400/409 beside the input the API names (APIError.Field) and the page
//     renders the form again with status 400.
//   - Templates: templates/NAME.html defines "content"; the layout (nav,
//     alerts, sign-out) wraps it. The data is a struct embedding Page from
//     rq.NewPage(title, navPath); rq.Render(w, status, "NAME", data). Each
//     input has a <label for>, {{invalid .Page "field"}} on the input and
//     {{errorfor .Page "field"}} after it; every POST form carries
//     <input type="hidden" name="csrf" value="{{.CSRF}}">; edit controls
//     sit inside {{if .CanEdit}}.
//   - Lists: l := ListOf(rq.Request); call the API with l.APIQuery("q")
//     (the API's name for its search parameter), set l.Total from the
//     include_totals answer, render {{template "search" .List}} and
//     {{template "pager" .List}}.
//   - Destructive actions: a GET that renders "confirm" with a ConfirmPage
//     and a POST that acts; no script needed.
//   - Styles go in web/static/console.css; no inline script or style (the
//     CSP forbids them).
//
// Pages of note:
//
//   - Connections: "Test connection" opens, in a new tab, the console's own
//     authorization request with connection=NAME and prompt=login: a real
//     login through that connection (its provider, then the hosted pages).
//     The callback sees the test in the sealed login cookie, exchanges the
//     code, and shows the profile of the ID token (user ID, email, name), or
//     the error /authorize returned (a connection not enabled for the
//     console's application gatehouse-console is refused there). It opens
//     no console session; the login may create the user, so read-only
//     admins cannot run it.
//   - Organizations: the branding preview is the hosted login's header
//     drawn by the console; "Preview" shows the form's values unsaved, with
//     the colors from a stylesheet route (organization-preview.css) as the
//     CSP allows no inline style. Invitation links are shown once, when made.
//     Lists without an API search (organizations, APIs, connections, keys)
//     are read whole (up to 5,000) and searched and paged by the console.
//   - Signing keys: a rotation is refused by the API until the next key has
//     been published for the key cache period plus the JWKS cache period
//     (60 s), so that no verifier with a cached JWKS meets a token signed by
//     a key it does not know; the page shows the refusal and the wait.
//   - The console's own application cannot be deleted, nor changed so that
//     the console's sign-in breaks (mgmt.Service refuses).
package console

package oauth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"gatehouse/internal/store"
)

// Response types Gatehouse answers at /authorize (OAuth 2.0 Multiple
// Response Type Encoding Practices §3 and §5). "token" is never one of
// them: RFC 9700 §2.1.2 retires access tokens in the front channel.
const (
	responseCode        = "code"
	responseIDToken     = "id_token"
	responseCodeIDToken = "code id_token"
)

// Response modes: how the answer reaches the client.
const (
	modeQuery      = "query"
	modeFragment   = "fragment"
	modeFormPost   = "form_post"   // OAuth 2.0 Form Post Response Mode
	modeWebMessage = "web_message" // postMessage to the app's web origin, for silent authentication
)

// responseTypesSupported and responseModesSupported are what discovery lists.
var (
	responseTypesSupported = []string{responseCode, responseIDToken, responseCodeIDToken}
	responseModesSupported = []string{modeQuery, modeFragment, modeFormPost, modeWebMessage}
)

// parseResponseType returns the canonical form of a response_type: its
// values are a set, in any order (Multiple Response Types §5).
func parseResponseType(s string) (string, bool) {
	f := strings.Fields(s)
	slices.Sort(f)
	t := strings.Join(f, " ")
	switch t {
	case responseCode, responseIDToken, responseCodeIDToken:
		return t, true
	}
	return "", false
}

// hasCode and hasIDToken say what a canonical response type carries.
func hasCode(typ string) bool    { return typ == responseCode || typ == responseCodeIDToken }
func hasIDToken(typ string) bool { return typ == responseIDToken || typ == responseCodeIDToken }

// resolveMode returns the mode an answer of type typ goes back in, and
// false when the requested mode is unknown or not allowed for the type; the
// mode returned then is still where an error may go. A response with an ID
// token never goes in the query (Multiple Response Types §3.0): a URL's
// query ends up in server logs and Referer headers.
func resolveMode(requested, typ string) (string, bool) {
	def := modeFragment
	if typ == responseCode || typ == "" {
		def = modeQuery
	}
	switch requested {
	case "":
		return def, true
	case modeQuery:
		return def, def == modeQuery
	case modeFragment, modeFormPost, modeWebMessage:
		return requested, true
	}
	return def, false
}

// errorMode is the mode an error about the request goes back in, decided
// before the request is known to be valid.
func errorMode(a authorizeParams) string {
	typ, ok := parseResponseType(a.ResponseType)
	if !ok && strings.Contains(a.ResponseType, "token") {
		typ = responseIDToken // any token in the front channel: never the query
	}
	mode, _ := resolveMode(a.ResponseMode, typ)
	return mode
}

// The stored request keeps the response type with the mode, in the one
// response_mode column: "form_post" for a code, "form_post id_token" or
// "fragment code id_token" for the others. Requests stored before response
// types existed hold "" or "query".
func encodeResponse(mode, typ string) string {
	if typ == responseCode {
		return mode
	}
	return mode + " " + typ
}

func decodeResponse(s string) (mode, typ string) {
	mode, typ, _ = strings.Cut(s, " ")
	if mode == "" {
		mode = modeQuery
	}
	if typ == "" {
		typ = responseCode
	}
	return mode, typ
}

// responder is where and how the answer to one authorization request goes.
type responder struct {
	redirectURI string // verified: registered for the client
	mode        string
	state       string
	status      int // of a redirect: 302, or 303 after a POST /authorize
}

// respondError sends a protocol error to the client (RFC 6749 §4.1.2.1,
// OIDC Core §3.1.2.6) in the request's response mode.
func (p *Provider) respondError(w http.ResponseWriter, r *http.Request, to responder, e *Error) {
	q := url.Values{"error": {e.Code}}
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	p.respond(w, r, to, q)
}

// respond sends params, with state and iss (RFC 9207), to the client in
// the response mode. Every answer may carry a code, a token or an error
// tied to the user's login: never cached (RFC 9700 §4.2.4).
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, to responder, params url.Values) {
	if to.state != "" {
		params.Set("state", to.state)
	}
	params.Set("iss", p.cfg.Issuer)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch to.mode {
	case modeFragment:
		http.Redirect(w, r, to.redirectURI+"#"+params.Encode(), to.status)
	case modeFormPost:
		p.formPost(w, to.redirectURI, params)
	case modeWebMessage:
		p.webMessage(w, to.redirectURI, params)
	default:
		http.Redirect(w, r, appendQuery(to.redirectURI, params), to.status)
	}
}

// formPostPage is an auto-submitting form (OAuth 2.0 Form Post Response
// Mode §2); without JavaScript the user presses its button.
var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Continue to the application</title></head>
<body>
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Press the button to continue to the application.</p><button type="submit">Continue</button></noscript>
</form>
<script>` + formPostScript + `</script>
</body>
</html>
`))

const formPostScript = `document.forms[0].submit()`

// webMessagePage posts the response to the window that opened or framed
// it, for the app's web origin only: the message is what the hosted
// service's SPA SDK listens for ({type: "authorization_response",
// response: {...}}), and the data travels in a JSON block so the script,
// and so its CSP hash, never changes.
var webMessagePage = template.Must(template.New("web_message").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Authorization response</title></head>
<body>
<script type="application/json" id="authorization-response">{{.}}</script>
<script>` + webMessageScript + `</script>
</body>
</html>
`))

const webMessageScript = `(function () {
  var d = JSON.parse(document.getElementById("authorization-response").textContent);
  var target = window.opener || window.parent;
  if (target && target !== window) {
    target.postMessage({type: "authorization_response", response: d.response}, d.origin);
  }
})();`

// scriptHash is a CSP source for an inline script (CSP Level 3 §2.3.1).
func scriptHash(script string) string {
	sum := sha256.Sum256([]byte(script))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

var (
	formPostScriptHash   = scriptHash(formPostScript)
	webMessageScriptHash = scriptHash(webMessageScript)
)

type formField struct{ Name, Value string }

func (p *Provider) formPost(w http.ResponseWriter, action string, params url.Values) {
	var fields []formField
	for _, k := range slices.Sorted(maps.Keys(params)) {
		fields = append(fields, formField{k, params.Get(k)})
	}
	var buf bytes.Buffer
	if err := formPostPage.Execute(&buf, struct {
		Action string
		Fields []formField
	}{action, fields}); err != nil {
		p.internalErrorPage(w, "authorize: form_post page", err)
		return
	}
	// The page may submit to the client's redirect URI and nowhere else,
	// and run its one script.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src "+formPostScriptHash+
		"; form-action "+cspSource(action)+"; base-uri 'none'; frame-ancestors 'none'")
	writeHTML(w, buf.Bytes())
}

func (p *Provider) webMessage(w http.ResponseWriter, redirectURI string, params url.Values) {
	origin := originOf(redirectURI)
	resp := map[string]string{}
	for k := range params {
		resp[k] = params.Get(k)
	}
	var buf bytes.Buffer
	if err := webMessagePage.Execute(&buf, map[string]any{"origin": origin, "response": resp}); err != nil {
		p.internalErrorPage(w, "authorize: web_message page", err)
		return
	}
	// Only the app's web origin may frame this page (silent authentication
	// runs it in a hidden iframe); every other page of Gatehouse refuses
	// framing altogether. frame-ancestors overrides X-Frame-Options, which
	// is dropped so no browser applies both.
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+webMessageScriptHash+
		"; base-uri 'none'; form-action 'none'; frame-ancestors "+origin)
	h.Del("X-Frame-Options")
	writeHTML(w, buf.Bytes())
}

func writeHTML(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// originOf is the origin (scheme://host[:port]) of an absolute URL, or ""
// (RFC 6454 §4).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// cspSource is a URL as a CSP source expression matching exactly that
// URL's origin and path (CSP Level 3 §2.3.1): without query or fragment,
// and with the characters that would end the expression percent-encoded.
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || originOf(raw) == "" {
		return "'none'"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	path = strings.NewReplacer(";", "%3B", ",", "%2C", " ", "%20", "'", "%27").Replace(path)
	return originOf(raw) + path
}

// webOrigins are the origins allowed to receive web_message responses
// from an application: the web (http and https) origins of its callback
// URLs, and its Allowed Web Origins.
func webOrigins(c store.Client) []string {
	var out []string
	for _, cb := range append(slices.Clone(c.Callbacks), c.WebOrigins...) {
		o := originOf(cb)
		web := strings.HasPrefix(o, "https://") || strings.HasPrefix(o, "http://")
		if web && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

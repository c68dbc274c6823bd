package oauth

import (
	"gatehouse/internal/authflow"
	"net/http"
)

// mountFallbacks answers wrong methods and unknown paths at the protocol
// endpoints in each endpoint's own shape, where the mux would answer in
// plain text: clients parse these answers (an RFC 6749 §5.2 JSON error at
// /oauth/*, an RFC 6750 §3 challenge at /userinfo), and a person reads the
// ones at the browser endpoints. A 405 carries Allow (RFC 9110 §15.5.6).
// The method-less patterns lose to the method patterns Mount registers,
// and the subtree patterns to every exact path, so they only catch what
// nothing else serves.
func (p *Provider) mountFallbacks(mux *http.ServeMux) {
	mux.HandleFunc("/oauth/", jsonNotFound)
	mux.HandleFunc("/.well-known/", jsonNotFound)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		mux.HandleFunc(path, jsonMethodNotAllowed("GET, HEAD"))
	}
	mux.HandleFunc("/userinfo", bearerMethodNotAllowed)
	mux.HandleFunc("/authorize", p.pageMethodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc(authflow.ResumePath, p.pageMethodNotAllowed("GET, HEAD"))
	mux.HandleFunc("/authorize/", p.pageNotFound)
	mux.HandleFunc("/oidc/logout", p.pageMethodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("/v2/logout", p.pageMethodNotAllowed("GET, HEAD"))
}

// jsonNotFound answers a path under /oauth/ or /.well-known/ that names no
// endpoint.
func jsonNotFound(w http.ResponseWriter, r *http.Request) {
	// The path is not echoed: the description must stay within RFC 6749's
	// character set and short.
	writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "there is no endpoint at this path; the discovery document lists them", Status: http.StatusNotFound})
}

// jsonMethodNotAllowed answers a method other than allow at a JSON endpoint.
func jsonMethodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSONError(w, &Error{Code: ErrInvalidRequest, Description: "this endpoint accepts only " + allow, Status: http.StatusMethodNotAllowed})
	}
}

// bearerMethodNotAllowed answers a method other than GET or POST at
// /userinfo with the RFC 6750 §3 challenge its clients look for.
func bearerMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD, POST")
	writeBearerError(w, &Error{Code: ErrInvalidRequest, Description: "the userinfo endpoint accepts only GET and POST", Status: http.StatusMethodNotAllowed})
}

// pageMethodNotAllowed answers a method other than allow at an endpoint a
// browser visits, with the error page.
func (p *Provider) pageMethodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		p.errorPage(w, http.StatusMethodNotAllowed, ErrInvalidRequest, "This address accepts only "+allow+" requests.")
	}
}

// pageNotFound answers an unknown path under /authorize/.
func (p *Provider) pageNotFound(w http.ResponseWriter, r *http.Request) {
	p.errorPage(w, http.StatusNotFound, ErrInvalidRequest, "There is no page at this address. Go back to the application and log in again.")
}

package mgmtapi

import (
	"net/http"
	"regexp"
	"strings"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
)

func (a *API) userRoutes() {
	a.add("GET", "/users", "List or search users", a.listUsers, "read:users").lists("users", userJSON{})
	a.add("POST", "/users", "Create a user", a.createUser, "create:users").accepts(userCreate{}).returns(201, userJSON{})
	a.add("GET", "/users/{id}", "Get a user", a.getUser, "read:users").returns(200, userJSON{})
	a.add("PATCH", "/users/{id}", "Update a user", a.patchUser, "update:users").accepts(userPatch{}).returns(200, userJSON{})
	a.add("DELETE", "/users/{id}", "Delete a user", a.deleteUser, "delete:users").returns(204, nil)
	a.add("GET", "/users-by-email", "Find users by email", a.usersByEmail, "read:users").returns(200, []userJSON{})
	a.add("POST", "/users/{id}/identities", "Link a user account", a.linkUser, "update:users").accepts(linkBody{}).returns(201, []identityJSON{})
	a.add("DELETE", "/users/{id}/identities/{provider}/{user_id}", "Unlink a user identity", a.unlinkUser, "update:users").returns(200, []identityJSON{})
	a.add("GET", "/users/{id}/authentication-methods", "List a user's authentication methods", a.listFactors, "read:authentication_methods").lists("authenticators", factorJSON{})
	a.add("DELETE", "/users/{id}/authentication-methods", "Delete all of a user's authentication methods", a.deleteFactors, "delete:authentication_methods").returns(204, nil)
	a.add("DELETE", "/users/{id}/authentication-methods/{method}", "Delete a user's authentication method", a.deleteFactor, "delete:authentication_methods").returns(204, nil)
	a.add("GET", "/users/{id}/sessions", "List a user's sessions", a.listSessions, "read:sessions").returns(200, sessionList{})
	a.add("DELETE", "/users/{id}/sessions", "Delete a user's sessions", a.deleteSessions, "delete:sessions").returns(202, nil)
	a.add("DELETE", "/sessions/{id}", "Delete a session", a.deleteSession, "delete:sessions").returns(204, nil)
}

// identityJSON is a user's identity as the API shows it.
type identityJSON struct {
	Connection string `json:"connection"`
	Provider   string `json:"provider"`
	UserID     string `json:"user_id"`
	IsSocial   bool   `json:"isSocial"`
}

// userJSON is a user as the API shows it. The password hash never leaves
// the server.
type userJSON struct {
	UserID        string         `json:"user_id"`
	Email         string         `json:"email,omitempty"`
	EmailVerified bool           `json:"email_verified"`
	Name          string         `json:"name,omitempty"`
	Nickname      string         `json:"nickname,omitempty"`
	GivenName     string         `json:"given_name,omitempty"`
	FamilyName    string         `json:"family_name,omitempty"`
	Picture       string         `json:"picture,omitempty"`
	Blocked       bool           `json:"blocked"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	LastLogin     *string        `json:"last_login,omitempty"`
	LoginsCount   int            `json:"logins_count"`
	Identities    []identityJSON `json:"identities"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
}

// databases is the set of connection names of strategy database: their
// identities are not social.
type databases map[string]bool

// databaseConnections returns the names of the database connections.
func (a *API) databaseConnections(r *http.Request) (databases, error) {
	cs, err := a.svc.ListConnections(r.Context())
	if err != nil {
		return nil, err
	}
	out := databases{}
	for _, c := range cs {
		if c.Strategy == store.StrategyDatabase {
			out[c.Name] = true
		}
	}
	return out, nil
}

func identitiesJSON(ids []store.Identity, dbs databases) []identityJSON {
	out := make([]identityJSON, 0, len(ids))
	for _, id := range ids {
		out = append(out, identityJSON{Connection: id.Connection, Provider: id.Provider, UserID: id.UserID, IsSocial: !dbs[id.Connection]})
	}
	return out
}

func toUserJSON(u store.User, dbs databases) userJSON {
	app, meta := u.AppMetadata, u.UserMetadata
	if app == nil {
		app = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	return userJSON{
		UserID: u.ID, Email: u.Email, EmailVerified: u.EmailVerified, Name: u.Name, Nickname: u.Nickname,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture, Blocked: u.Blocked,
		CreatedAt: timestamp(u.CreatedAt), UpdatedAt: timestamp(u.UpdatedAt), LastLogin: optTimestamp(u.LastLogin),
		LoginsCount: u.LoginsCount, Identities: identitiesJSON(u.Identities, dbs), AppMetadata: app, UserMetadata: meta,
	}
}

func usersJSON(us []store.User, dbs databases) []userJSON {
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = toUserJSON(u, dbs)
	}
	return out
}

// writeUser writes one user.
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, status int, u store.User) error {
	dbs, err := a.databaseConnections(r)
	if err != nil {
		return err
	}
	writeJSON(w, status, toUserJSON(u, dbs))
	return nil
}

// writeUsers writes a list of users, paged when p is not nil.
func (a *API) writeUsers(w http.ResponseWriter, r *http.Request, p *page, us []store.User, total int) error {
	dbs, err := a.databaseConnections(r)
	if err != nil {
		return err
	}
	if p == nil {
		writeJSON(w, http.StatusOK, usersJSON(us, dbs))
		return nil
	}
	writePage(w, *p, "users", usersJSON(us, dbs), total)
	return nil
}

// queryTerm is one term of the user search syntax: field:"value" or
// field:value.
var queryTerm = regexp.MustCompile(`^([a-z_.]+):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))$`)

// parseUserQuery reads the q parameter: terms joined by AND, each
// email:, name:, user_id: or identities.connection: with a quoted or bare
// value; a value ending in * matches a prefix.
func parseUserQuery(q string) (store.UserQuery, error) {
	var uq store.UserQuery
	q = strings.TrimSpace(q)
	if q == "" {
		return uq, nil
	}
	for _, term := range splitAnd(q) {
		m := queryTerm.FindStringSubmatch(strings.TrimSpace(term))
		if m == nil {
			return uq, badRequest("Query validation error: cannot parse %q; use field:\"value\" terms joined by AND", term)
		}
		v := m[3]
		if m[3] == "" {
			v = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
		}
		if v == "" {
			return uq, badRequest("Query validation error: %s needs a value", m[1])
		}
		var dst *string
		switch m[1] {
		case "email":
			dst = &uq.Email
		case "name":
			dst = &uq.Name
		case "user_id":
			dst = &uq.ID
		case "identities.connection":
			dst = &uq.Connection
		default:
			return uq, badRequest("Query validation error: the field %q cannot be searched; use email, name, user_id or identities.connection", m[1])
		}
		if *dst != "" && *dst != v {
			return uq, badRequest("Query validation error: %s is given twice with different values", m[1])
		}
		if m[1] == "user_id" && strings.HasSuffix(v, "*") {
			return uq, badRequest("Query validation error: user_id takes no wildcard")
		}
		*dst = v
	}
	return uq, nil
}

// splitAnd splits q on the AND operator outside quotes.
func splitAnd(q string) []string {
	var terms []string
	var cur strings.Builder
	inQuote := false
	fields := strings.Fields(q)
	// Re-join the fields, splitting at a bare AND outside quotes.
	for _, f := range fields {
		if !inQuote && f == "AND" {
			terms = append(terms, cur.String())
			cur.Reset()
			continue
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(f)
		for i := 0; i < len(f); i++ {
			if f[i] == '\\' {
				i++
				continue
			}
			if f[i] == '"' {
				inQuote = !inQuote
			}
		}
	}
	return append(terms, cur.String())
}

// checkQuery refuses query parameters the route does not know.
func checkQuery(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
			}
		}
		if !ok {
			return badRequest("Query validation error: 'Additional properties not allowed: %s'", k)
		}
	}
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "q", "page", "per_page", "include_totals", "search_engine", "connection"); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	if se := r.URL.Query().Get("search_engine"); se != "" && se != "v3" {
		return badRequest("Query validation error: search_engine must be v3")
	}
	uq, err := parseUserQuery(r.URL.Query().Get("q"))
	if err != nil {
		return err
	}
	if c := r.URL.Query().Get("connection"); c != "" {
		uq.Connection = c
	}
	uq.Offset, uq.Limit = p.offset(), p.PerPage
	users, total, err := a.svc.SearchUsers(r.Context(), uq)
	if err != nil {
		return err
	}
	return a.writeUsers(w, r, &p, users, total)
}

type userCreate struct {
	Connection    string         `json:"connection"`
	Email         string         `json:"email"`
	Password      string         `json:"password"`
	UserID        string         `json:"user_id"`
	EmailVerified bool           `json:"email_verified"`
	VerifyEmail   *bool          `json:"verify_email"`
	Blocked       bool           `json:"blocked"`
	Name          string         `json:"name"`
	Nickname      string         `json:"nickname"`
	GivenName     string         `json:"given_name"`
	FamilyName    string         `json:"family_name"`
	Picture       string         `json:"picture"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var in userCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.VerifyEmail != nil && *in.VerifyEmail {
		return badRequest("verify_email is not sent from the management API; create a ticket with POST /api/v2/tickets/email-verification")
	}
	u, err := a.svc.CreateUser(r.Context(), mgmt.NewUser{
		Connection: in.Connection, Email: in.Email, Password: in.Password, UserID: in.UserID,
		EmailVerified: in.EmailVerified, Blocked: in.Blocked, Name: in.Name, Nickname: in.Nickname,
		GivenName: in.GivenName, FamilyName: in.FamilyName, Picture: in.Picture,
		AppMetadata: in.AppMetadata, UserMetadata: in.UserMetadata,
	})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusCreated, u)
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.svc.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u)
}

type userPatch struct {
	Email         *string        `json:"email"`
	EmailVerified *bool          `json:"email_verified"`
	VerifyEmail   *bool          `json:"verify_email"`
	Password      *string        `json:"password"`
	Connection    *string        `json:"connection"`
	ClientID      *string        `json:"client_id"`
	Blocked       *bool          `json:"blocked"`
	Name          *string        `json:"name"`
	Nickname      *string        `json:"nickname"`
	GivenName     *string        `json:"given_name"`
	FamilyName    *string        `json:"family_name"`
	Picture       *string        `json:"picture"`
	AppMetadata   map[string]any `json:"app_metadata"`
	UserMetadata  map[string]any `json:"user_metadata"`
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request) error {
	var in userPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.VerifyEmail != nil && *in.VerifyEmail {
		return badRequest("verify_email is not sent from the management API; create a ticket with POST /api/v2/tickets/email-verification")
	}
	u, err := a.svc.PatchUser(r.Context(), r.PathValue("id"), mgmt.UserPatch{
		Email: in.Email, EmailVerified: in.EmailVerified, Password: in.Password, Blocked: in.Blocked,
		Name: in.Name, Nickname: in.Nickname, GivenName: in.GivenName, FamilyName: in.FamilyName,
		Picture: in.Picture, AppMetadata: in.AppMetadata, UserMetadata: in.UserMetadata, Connection: in.Connection,
	})
	if err != nil {
		return err
	}
	return a.writeUser(w, r, http.StatusOK, u)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) usersByEmail(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r, "email", "fields", "include_fields"); err != nil {
		return err
	}
	users, err := a.svc.UsersByEmail(r.Context(), r.URL.Query().Get("email"))
	if err != nil {
		return err
	}
	return a.writeUsers(w, r, nil, users, 0)
}

type linkBody struct {
	Provider     string `json:"provider"`
	UserID       string `json:"user_id"`
	ConnectionID string `json:"connection_id"`
}

func (a *API) linkUser(w http.ResponseWriter, r *http.Request) error {
	var in linkBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Provider == "" || in.UserID == "" {
		return badRequest("Payload validation error: provider and user_id of the secondary account are required")
	}
	secondary := in.Provider + "|" + in.UserID
	if strings.Contains(in.UserID, "|") {
		secondary = in.UserID // the full user ID
	}
	u, err := a.svc.LinkUsers(r.Context(), r.PathValue("id"), secondary)
	if err != nil {
		return err
	}
	dbs, err := a.databaseConnections(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, identitiesJSON(u.Identities, dbs))
	return nil
}

func (a *API) unlinkUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	ids, err := a.svc.UnlinkIdentity(r.Context(), id, r.PathValue("provider"), r.PathValue("user_id"))
	if err != nil {
		return err
	}
	dbs, err := a.databaseConnections(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, identitiesJSON(ids, dbs))
	return nil
}

// factorJSON is an authentication method as the API shows it.
type factorJSON struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	Name       string  `json:"name,omitempty"`
	Confirmed  bool    `json:"confirmed"`
	CreatedAt  string  `json:"created_at"`
	LastAuthAt *string `json:"last_auth_at,omitempty"`
}

func (a *API) listFactors(w http.ResponseWriter, r *http.Request) error {
	return listPage(w, r, "authenticators", func() ([]store.Factor, error) {
		return a.svc.ListUserFactors(r.Context(), r.PathValue("id"))
	}, func(f store.Factor) factorJSON {
		return factorJSON{ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed,
			CreatedAt: timestamp(f.CreatedAt), LastAuthAt: optTimestamp(f.LastUsedAt)}
	})
}

func (a *API) deleteFactors(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteUserFactors(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) deleteFactor(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteUserFactor(r.Context(), r.PathValue("id"), r.PathValue("method")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// sessionJSON is a session as the API shows it. The ID is the hash of the
// session cookie, which cannot be turned back into the cookie.
type sessionJSON struct {
	ID                   string   `json:"id"`
	UserID               string   `json:"user_id"`
	CreatedAt            string   `json:"created_at"`
	AuthenticatedAt      string   `json:"authenticated_at"`
	ExpiresAt            string   `json:"expires_at"`
	AuthenticationMethod []string `json:"authentication_methods"`
}

type sessionList struct {
	Sessions []sessionJSON `json:"sessions"`
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	if err := checkQuery(r); err != nil {
		return err
	}
	ss, err := a.svc.ListUserSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]sessionJSON, len(ss))
	for i, s := range ss {
		out[i] = sessionJSON{ID: s.ID, UserID: s.UserID, CreatedAt: timestamp(s.CreatedAt),
			AuthenticatedAt: timestamp(s.AuthTime), ExpiresAt: timestamp(s.ExpiresAt), AuthenticationMethod: s.Methods}
		if out[i].AuthenticationMethod == nil {
			out[i].AuthenticationMethod = []string{}
		}
	}
	writeJSON(w, http.StatusOK, sessionList{Sessions: out})
	return nil
}

func (a *API) deleteSessions(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteUserSessions(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteSession(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

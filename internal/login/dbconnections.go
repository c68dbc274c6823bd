package login

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/connector/database"
	"gatehouse/internal/email"
	"gatehouse/internal/store"
)

// The Authentication API endpoints for database connections, in the hosted
// service's shapes, for apps that sign users up or send reset emails
// from their own forms (auth0.js, the SDKs' database clients).
const (
	dbSignupPath         = "/dbconnections/signup"
	dbChangePasswordPath = "/dbconnections/change_password"
	// changePasswordAnswer is the hosted service's answer to every
	// change-password request, whether or not the account exists.
	changePasswordAnswer = "We've just sent you an email to reset your password."
)

// dbError is an error of these endpoints.
type dbError struct {
	Name        string `json:"name"`
	Code        string `json:"code"`
	Description string `json:"description"`
	StatusCode  int    `json:"statusCode"`
}

func writeDBError(w http.ResponseWriter, status int, name, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(dbError{Name: name, Code: code, Description: description, StatusCode: status})
}

// dbRequest is the body of both endpoints (JSON, or a form as the older
// clients send).
type dbRequest struct {
	ClientID     string         `json:"client_id"`
	Email        string         `json:"email"`
	Password     string         `json:"password"`
	Connection   string         `json:"connection"`
	Username     string         `json:"username"`
	GivenName    string         `json:"given_name"`
	FamilyName   string         `json:"family_name"`
	Name         string         `json:"name"`
	Nickname     string         `json:"nickname"`
	Picture      string         `json:"picture"`
	UserMetadata map[string]any `json:"user_metadata"`
}

// readDBRequest parses the body; it writes the error and returns false
// when it cannot.
func readDBRequest(w http.ResponseWriter, r *http.Request) (dbRequest, bool) {
	var req dbRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			if tooLarge(err) {
				writeDBError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeError", "payload_too_large", tooLargeMessage)
				return req, false
			}
			writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_body", "The body is not valid JSON.")
			return req, false
		}
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			if tooLarge(err) {
				writeDBError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeError", "payload_too_large", tooLargeMessage)
				return req, false
			}
			writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_body", "The form could not be read.")
			return req, false
		}
		f := r.PostForm
		req = dbRequest{ClientID: f.Get("client_id"), Email: f.Get("email"), Password: f.Get("password"),
			Connection: f.Get("connection"), GivenName: f.Get("given_name"), FamilyName: f.Get("family_name"),
			Name: f.Get("name"), Nickname: f.Get("nickname"), Picture: f.Get("picture")}
	default:
		writeDBError(w, http.StatusUnsupportedMediaType, "BadRequestError", "invalid_body", "Send application/json.")
		return req, false
	}
	return req, true
}

// dbClient checks client_id and connection: the client must exist and the
// connection must be the password connection enabled for it.
func (p *Pages) dbClient(w http.ResponseWriter, r *http.Request, req dbRequest) (store.Client, bool) {
	if req.ClientID == "" {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_request", "client_id is required.")
		return store.Client{}, false
	}
	client, err := p.cfg.Store.GetClient(r.Context(), req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_client", "Unknown client: no application is registered with this client_id.")
		return client, false
	}
	if err != nil {
		p.dbInternalError(w, "dbconnections: get client", err)
		return client, false
	}
	conn := req.Connection
	if conn == "" {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_request", "connection is required.")
		return client, false
	}
	c, err := p.cfg.Store.GetConnection(r.Context(), conn)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.dbInternalError(w, "dbconnections: get connection", err)
		return client, false
	}
	if err != nil || c.Strategy != store.StrategyDatabase || !slices.Contains(c.EnabledClients, client.ID) {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_connection",
			"The connection "+conn+" is not a database connection enabled for this application.")
		return client, false
	}
	return client, true
}

func (p *Pages) dbInternalError(w http.ResponseWriter, op string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		p.cfg.Log.Warn(op, "err", err)
		w.Header().Set("Retry-After", "5")
		writeDBError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "temporarily_unavailable", "The service is temporarily unavailable.")
		return
	}
	p.cfg.Log.Error(op, "err", err)
	writeDBError(w, http.StatusInternalServerError, "InternalServerError", "server_error", "The server could not complete the request.")
}

// dbSignup handles POST /dbconnections/signup. With email configured the
// answer is the same for a new address and one that has an account (whose
// owner is told by email), so it carries no user id; the new user verifies
// the address through the link. Without email the hosted service's
// user_exists error is the only possible answer for a taken address.
func (p *Pages) dbSignup(w http.ResponseWriter, r *http.Request) {
	body, ok := readDBRequest(w, r)
	if !ok {
		return
	}
	client, ok := p.dbClient(w, r, body)
	if !ok {
		return
	}
	addr, err := database.NormalizeEmail(body.Email)
	if err != nil {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_signup", "A valid email address is required.")
		return
	}
	attempt, err := p.reserve(w, r, ActionSignUp, "")
	if err != nil {
		p.dbInternalError(w, "dbconnections signup: throttle", err)
		return
	}
	if !attempt.OK {
		writeDBError(w, http.StatusTooManyRequests, "TooManyRequestsError", "too_many_attempts", attempt.Refusal("Too many sign-ups from your network."))
		return
	}
	failed := func(desc string) {
		e := withPasswordConnection(requestEvent(audit.TypeFailedSignup, desc, store.AuthRequest{}, client))
		e.UserName = addr
		p.record(r, e)
	}
	if err := p.cfg.Database.CheckPassword(body.Password, addr); err != nil {
		failed(weakPassword(err))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "PasswordStrengthError", "code": "invalid_password",
			"message": "Password is too weak", "description": capitalize(err.Error()) + ".", "statusCode": 400})
		return
	}
	if p.mail.enabled() && !p.mail.healthy() {
		writeDBError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "email_unavailable", "We cannot send email right now, and sign-up needs it. Try again in a few minutes.")
		return
	}
	user, err := p.cfg.Database.SignUp(r.Context(), addr, body.Password, body.Name)
	answer := map[string]any{"email": addr, "email_verified": false}
	if p.mail.enabled() {
		// The same answer for a new and a taken address: the profile as
		// sent, never as stored (a stored account has defaults filled in).
		for k, v := range map[string]string{"given_name": body.GivenName, "family_name": body.FamilyName, "name": body.Name, "nickname": body.Nickname, "picture": body.Picture} {
			if v != "" {
				answer[k] = v
			}
		}
	}
	switch {
	case errors.Is(err, store.ErrConflict) && p.mail.enabled():
		failed("the user already exists")
		p.mail.sendLater("account_exists", func(ctx context.Context) (email.Message, error) {
			return email.AccountExists(addr, p.branding(ctx, client, ""), p.forgotLink(""), p.forgotLink(""))
		})
	case errors.Is(err, store.ErrConflict):
		failed("the user already exists")
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "user_exists", "The user already exists.")
		return
	case err != nil:
		p.dbInternalError(w, "dbconnections signup", err)
		return
	default:
		p.cfg.Log.Info("user signed up", "user_id", user.ID, "client_id", client.ID, "via", "dbconnections")
		p.record(r, withUser(withPasswordConnection(requestEvent(audit.TypeSuccessSignup, "", store.AuthRequest{}, client)), user))
		if err := p.dbProfile(r.Context(), &user, body); err != nil {
			p.cfg.Log.Warn("dbconnections signup: profile", "err", err)
		}
		if p.mail.enabled() {
			p.mail.sendLater("verify_email", func(ctx context.Context) (email.Message, error) {
				return p.verificationEmail(ctx, client, store.AuthRequest{}, user)
			})
		} else {
			_, id, _ := strings.Cut(user.ID, "|")
			answer["_id"] = id
			for k, v := range map[string]string{"given_name": user.GivenName, "family_name": user.FamilyName, "name": user.Name, "nickname": user.Nickname, "picture": user.Picture} {
				if v != "" {
					answer[k] = v
				}
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(answer)
}

// dbProfile stores the optional profile fields of a sign-up.
func (p *Pages) dbProfile(ctx context.Context, u *store.User, body dbRequest) error {
	if body.GivenName == "" && body.FamilyName == "" && body.Nickname == "" && body.Picture == "" && len(body.UserMetadata) == 0 {
		return nil
	}
	u.GivenName, u.FamilyName, u.Nickname, u.Picture = body.GivenName, body.FamilyName, body.Nickname, body.Picture
	if len(body.UserMetadata) > 0 {
		u.UserMetadata = body.UserMetadata
	}
	u.UpdatedAt = p.cfg.Now().UTC()
	return p.cfg.Store.UpdateUser(ctx, *u)
}

// dbChangePassword handles POST /dbconnections/change_password: a reset
// email to the address when it has a password account, and the hosted
// service's same answer either way.
func (p *Pages) dbChangePassword(w http.ResponseWriter, r *http.Request) {
	body, ok := readDBRequest(w, r)
	if !ok {
		return
	}
	client, ok := p.dbClient(w, r, body)
	if !ok {
		return
	}
	if !p.mail.enabled() {
		writeDBError(w, http.StatusNotImplemented, "NotImplementedError", "email_not_configured", "This server sends no email.")
		return
	}
	addr, err := database.NormalizeEmail(body.Email)
	if err != nil {
		writeDBError(w, http.StatusBadRequest, "BadRequestError", "invalid_request", "A valid email address is required.")
		return
	}
	attempt, err := p.reserve(w, r, ActionPasswordReset, accountName(addr))
	if err != nil {
		p.dbInternalError(w, "dbconnections change_password: throttle", err)
		return
	}
	if !attempt.OK {
		writeDBError(w, http.StatusTooManyRequests, "TooManyRequestsError", "too_many_attempts", attempt.Refusal("Too many reset requests."))
		return
	}
	if !p.mail.healthy() {
		writeDBError(w, http.StatusServiceUnavailable, "ServiceUnavailableError", "email_unavailable", "We cannot send email right now. Try again in a few minutes.")
		return
	}
	e := withPasswordConnection(requestEvent(audit.TypeSuccessPasswordRequest, "", store.AuthRequest{}, client))
	e.UserName = addr
	p.record(r, e)
	p.mail.sendLater("reset_password", func(ctx context.Context) (email.Message, error) {
		return p.resetEmail(ctx, addr, client, store.AuthRequest{})
	})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(changePasswordAnswer))
}

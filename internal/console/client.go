package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/mgmt"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
)

// apiTokenTTL is the life of the management-API token minted for one
// page's calls: it never leaves the server, and a page is done in
// seconds.
const apiTokenTTL = 2 * time.Minute

// APIError is the management API's error answer, in Auth0's shape, with
// the input at fault when the API names one (its API name: "callbacks").
type APIError struct {
	Status    int    `json:"statusCode"`
	ErrorText string `json:"error"`
	Message   string `json:"message"`
	Code      string `json:"errorCode"`
	Field     string `json:"field"`
}

func (e *APIError) Error() string { return fmt.Sprintf("management API %d: %s", e.Status, e.Message) }

// Client calls the management API for the signed-in admin, in-process:
// each call goes through the API's own handler, scope checks and audit
// log, with a token minted here whose scopes follow the admin's role.
type Client struct {
	console *Console
	admin   Admin
	level   mgmt.AdminLevel
	from    *http.Request // the browser's request: its address and user agent go into the audit log

	mu  sync.Mutex // guards tok
	tok string
}

// token mints the admin's API token once per request: sub the user,
// client_id the console, gty the console's own grant type (which no grant
// of the token endpoint issues), audience the management API.
func (cl *Client) token(ctx context.Context) (string, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.tok != "" {
		return cl.tok, nil
	}
	c := cl.console
	now := c.cfg.Now()
	claims := map[string]any{
		"iss": c.cfg.Issuer, "sub": cl.admin.UserID, "aud": store.ManagementAudience(c.cfg.Issuer),
		"client_id": mgmt.ConsoleClientID, "gty": mgmt.ConsoleGrantType, "iat": now.Unix(),
		"exp": now.Add(apiTokenTTL).Unix(), "jti": token.NewOpaque(), "scope": strings.Join(cl.level.Scopes(), " "),
	}
	tok, err := c.cfg.Keys.Sign(ctx, claims, "at+jwt")
	if err != nil {
		return "", fmt.Errorf("mint the console's API token: %w", err)
	}
	cl.tok = tok
	return tok, nil
}

// Do calls the API: method on path (under /api/v2, with its query), in
// as the JSON body (nil for none), and the answer decoded into out (nil
// to drop it). An error answer is an *APIError.
func (cl *Client) Do(ctx context.Context, method, path string, in, out any) error {
	tok, err := cl.token(ctx)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "/api/v2"+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if cl.from != nil {
		req.RemoteAddr, req.Host = cl.from.RemoteAddr, cl.from.Host
		req.Header.Set("User-Agent", cl.from.UserAgent())
	}
	rec := newRecorder()
	cl.console.cfg.Handler.ServeHTTP(rec, req)
	if rec.status >= 400 {
		ae := &APIError{}
		if json.Unmarshal(rec.body.Bytes(), ae) != nil || ae.Message == "" {
			ae = &APIError{Status: rec.status, Message: http.StatusText(rec.status)}
		}
		ae.Status = rec.status
		if ae.Status == http.StatusForbidden && cl.admin.ReadOnly {
			ae.Message = "Your admin role is read-only: you cannot change anything. (" + ae.Message + ")"
		}
		return ae
	}
	if out == nil || rec.status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// Get, Post, Patch and Delete are Do with the method.
func (cl *Client) Get(ctx context.Context, path string, out any) error {
	return cl.Do(ctx, http.MethodGet, path, nil, out)
}

func (cl *Client) Post(ctx context.Context, path string, in, out any) error {
	return cl.Do(ctx, http.MethodPost, path, in, out)
}

func (cl *Client) Patch(ctx context.Context, path string, in, out any) error {
	return cl.Do(ctx, http.MethodPatch, path, in, out)
}

func (cl *Client) Delete(ctx context.Context, path string) error {
	return cl.Do(ctx, http.MethodDelete, path, nil, nil)
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// PathEscape escapes one path segment (user IDs hold '|').
func PathEscape(s string) string { return url.PathEscape(s) }

// recorder is the response of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

package oauth2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	xoauth2 "golang.org/x/oauth2"

	"gatehouse/internal/connector"
)

// DefaultTimeout bounds each request to the provider when Config.HTTPClient
// has none.
const DefaultTimeout = 10 * time.Second

// maxBody caps what is read of a provider's answer.
const maxBody = 1 << 20

// Config configures an oauth2 connection.
type Config struct {
	Name         string // the connection name; users get ids "oauth2-NAME|ID"
	AuthorizeURL string
	TokenURL     string
	UserinfoURL  string
	ClientID     string
	ClientSecret string
	Scopes       []string // none by default
	// ClaimMapping maps Gatehouse profile fields (see ClaimFields) to
	// userinfo claims; unmapped fields use the same-named claim, and sub
	// falls back to "id" when the userinfo JSON has no "sub".
	ClaimMapping map[string]string
	// HTTPClient makes the token and userinfo requests; a nil client or a
	// zero Timeout gets DefaultTimeout.
	HTTPClient *http.Client
}

// Connector is an oauth2 connection.
type Connector struct {
	name        string
	oauth       *xoauth2.Config
	userinfoURL string
	mapping     Mapping
	client      *http.Client
}

var _ connector.CallbackConnector = (*Connector)(nil)

// Open validates cfg and returns the connector. The client is
// authenticated at the token endpoint the way x/oauth2 detects (HTTP Basic
// first, then the request body), since there is no metadata to say.
func Open(cfg Config) (*Connector, error) {
	if err := CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("oauth2 connection: %w", err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("oauth2 connection %q: "+format, append([]any{cfg.Name}, args...)...)
	}
	if cfg.ClientID == "" {
		return nil, fail("client id is missing")
	}
	if cfg.ClientSecret == "" {
		return nil, fail("client secret is missing")
	}
	for _, u := range []struct{ field, value string }{
		{"authorize URL", cfg.AuthorizeURL}, {"token URL", cfg.TokenURL}, {"userinfo URL", cfg.UserinfoURL},
	} {
		if err := CheckURL(u.field, u.value); err != nil {
			return nil, fail("%w", err)
		}
	}
	if err := CheckScopes(cfg.Scopes); err != nil {
		return nil, fail("%w", err)
	}
	m, err := NewMapping(cfg.ClaimMapping)
	if err != nil {
		return nil, fail("%w", err)
	}
	return &Connector{
		name: cfg.Name,
		oauth: &xoauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     xoauth2.Endpoint{AuthURL: cfg.AuthorizeURL, TokenURL: cfg.TokenURL},
			Scopes:       append([]string(nil), cfg.Scopes...),
		},
		userinfoURL: cfg.UserinfoURL,
		mapping:     m,
		client:      HTTPClient(cfg.HTTPClient),
	}, nil
}

// Provider is "oauth2-" and the connection name.
func (c *Connector) Provider() string { return "oauth2-" + c.name }

// LoginURL is the authorization endpoint with state, a PKCE S256 challenge
// (RFC 7636; providers that do not know PKCE ignore it) and login_hint.
func (c *Connector) LoginURL(_ context.Context, f connector.Flow) (string, error) {
	if err := CheckFlow(f); err != nil {
		return "", err
	}
	opts := []xoauth2.AuthCodeOption{
		xoauth2.SetAuthURLParam("redirect_uri", f.CallbackURL),
		xoauth2.S256ChallengeOption(f.CodeVerifier),
	}
	if f.LoginHint != "" {
		opts = append(opts, xoauth2.SetAuthURLParam("login_hint", f.LoginHint))
	}
	return c.oauth.AuthCodeURL(f.State, opts...), nil
}

// HandleCallback exchanges the code and maps the userinfo answer.
func (c *Connector) HandleCallback(ctx context.Context, f connector.Flow, r *http.Request) (connector.Identity, error) {
	if err := CheckFlow(f); err != nil {
		return connector.Identity{}, err
	}
	code, err := CallbackCode(r)
	if err != nil {
		return connector.Identity{}, err
	}
	ctx = context.WithValue(ctx, xoauth2.HTTPClient, c.client)
	tok, err := c.oauth.Exchange(ctx, code,
		xoauth2.SetAuthURLParam("redirect_uri", f.CallbackURL), xoauth2.VerifierOption(f.CodeVerifier))
	if err != nil {
		return connector.Identity{}, ExchangeError(err)
	}
	body, err := GetJSON(ctx, c.client, c.userinfoURL, tok.AccessToken, "application/json")
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo request failed" + Reason(err), Err: err}
	}
	claims, err := DecodeClaims(body)
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo answer is not a JSON object", Err: err}
	}
	m := c.mapping
	if _, ok := claims["sub"]; !ok && !m.Configured("sub") {
		m = m.withClaim("sub", "id")
	}
	id, err := m.Identity(claims)
	if err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "the userinfo answer has no user id", Err: err}
	}
	return id, nil
}

// CallbackCode reads the provider's answer on the callback (RFC 6749
// §4.1.2): the code, or ErrAccessDenied when the user refused, or an
// *UpstreamError for any other error.
func CallbackCode(r *http.Request) (string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		if e == "access_denied" {
			return "", connector.ErrAccessDenied
		}
		desc := e
		if d := q.Get("error_description"); d != "" {
			desc += ": " + d
		}
		return "", &connector.UpstreamError{Description: "the provider returned an error: " + Clip(desc)}
	}
	code := q.Get("code")
	if code == "" {
		return "", &connector.UpstreamError{Description: "the provider's answer has no authorization code"}
	}
	return code, nil
}

// ExchangeError describes a failed code exchange.
func ExchangeError(err error) *connector.UpstreamError {
	var re *xoauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			desc := re.ErrorCode
			if re.ErrorDescription != "" {
				desc += ": " + re.ErrorDescription
			}
			return &connector.UpstreamError{Description: "the token endpoint refused the code: " + Clip(desc), Err: err}
		}
		status := "an error"
		if re.Response != nil {
			status = re.Response.Status
		}
		// RetrieveError's message carries the whole body; keep a glimpse.
		return &connector.UpstreamError{
			Description: "the token endpoint answered " + status,
			Err:         fmt.Errorf("response body %q", Clip(string(re.Body))),
		}
	}
	return &connector.UpstreamError{Description: "the token request failed" + Reason(err), Err: err}
}

// GetJSON GETs url with the access token as a Bearer token (RFC 6750 §2.1)
// and returns the body of a 2xx answer.
func GetJSON(ctx context.Context, client *http.Client, url, accessToken, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &StatusError{Status: resp.Status, Body: Clip(string(body))}
	}
	return body, nil
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Status string // "500 Internal Server Error"
	Body   string // clipped
}

func (e *StatusError) Error() string { return "HTTP " + e.Status + ": " + e.Body }

// Reason is a short, user-safe explanation of a request error, starting
// with ": ", for UpstreamError.Description.
func Reason(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		return ": HTTP " + se.Status
	case IsTimeout(err):
		return ": the provider did not answer in time"
	}
	return ""
}

// Clip makes upstream text fit for a log line or an error page: control
// characters become spaces and it is cut to 200 characters.
func Clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	xoauth2 "golang.org/x/oauth2"

	"gatehouse/internal/connector"
	"gatehouse/internal/connector/oauth2"
)

// Defaults for github.com.
const (
	DefaultBaseURL = "https://github.com"
	DefaultAPIURL  = "https://api.github.com"
)

// DefaultScopes read the profile and the (private) email addresses.
var DefaultScopes = []string{"read:user", "user:email"}

// apiMediaType is what GitHub's REST API documents for Accept.
const apiMediaType = "application/vnd.github+json"

// Config configures the github connection.
type Config struct {
	ClientID     string
	ClientSecret string
	// BaseURL is GitHub's web address; default https://github.com. For
	// GitHub Enterprise Server, e.g. https://ghe.example.com.
	BaseURL string
	// APIURL is the REST API's address; default https://api.github.com, or
	// BaseURL + "/api/v3" when BaseURL is not github.com (GitHub Enterprise
	// Server), so an enterprise token is never sent to github.com.
	APIURL string
	// Scopes default to DefaultScopes; without user:email (or user) the
	// emails API refuses and every login fails.
	Scopes []string
	// HTTPClient makes the token and API requests; a nil client or a zero
	// Timeout gets oauth2.DefaultTimeout.
	HTTPClient *http.Client
}

// Connector is the github connection.
type Connector struct {
	clientID string
	oauth    *xoauth2.Config
	baseURL  string
	apiURL   string
	scopes   []string
	client   *http.Client
}

var _ connector.CallbackConnector = (*Connector)(nil)

// Open validates cfg and returns the connector.
func Open(cfg Config) (*Connector, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("github connection: "+format, args...)
	}
	if cfg.ClientID == "" {
		return nil, fail("client id is missing")
	}
	if cfg.ClientSecret == "" {
		return nil, fail("client secret is missing")
	}
	base, err := baseURL("base URL", cfg.BaseURL, DefaultBaseURL)
	if err != nil {
		return nil, fail("%w", err)
	}
	apiDefault := DefaultAPIURL
	if base != DefaultBaseURL {
		apiDefault = base + "/api/v3"
	}
	api, err := baseURL("API URL", cfg.APIURL, apiDefault)
	if err != nil {
		return nil, fail("%w", err)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	if err := oauth2.CheckScopes(scopes); err != nil {
		return nil, fail("%w", err)
	}
	return &Connector{
		clientID: cfg.ClientID,
		oauth: &xoauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			// GitHub documents the client credentials as form parameters.
			Endpoint: xoauth2.Endpoint{TokenURL: base + "/login/oauth/access_token", AuthStyle: xoauth2.AuthStyleInParams},
		},
		baseURL: base,
		apiURL:  api,
		scopes:  append([]string(nil), scopes...),
		client:  oauth2.HTTPClient(cfg.HTTPClient),
	}, nil
}

// baseURL checks a base URL, to which paths are appended: no query, and no
// trailing slash.
func baseURL(field, raw, def string) (string, error) {
	if raw == "" {
		return def, nil
	}
	if err := oauth2.CheckURL(field, raw); err != nil {
		return "", err
	}
	if strings.Contains(raw, "?") {
		return "", fmt.Errorf("%s: %q must have no query", field, raw)
	}
	return strings.TrimRight(raw, "/"), nil
}

// Provider is "github".
func (c *Connector) Provider() string { return "github" }

// LoginURL is GitHub's authorize page with client_id, redirect_uri, scope,
// state and login (the suggested account) when there is a login hint.
func (c *Connector) LoginURL(_ context.Context, f connector.Flow) (string, error) {
	if err := checkFlow(f); err != nil {
		return "", err
	}
	q := url.Values{
		"client_id":    {c.clientID},
		"redirect_uri": {f.CallbackURL},
		"scope":        {strings.Join(c.scopes, " ")},
		"state":        {f.State},
	}
	if f.LoginHint != "" {
		q.Set("login", f.LoginHint)
	}
	return c.baseURL + "/login/oauth/authorize?" + q.Encode(), nil
}

func checkFlow(f connector.Flow) error {
	switch {
	case f.State == "":
		return errors.New("login flow: state is missing")
	case f.CallbackURL == "":
		return errors.New("login flow: callback URL is missing")
	}
	return nil
}

// HandleCallback exchanges the code and reads the user and their primary
// verified email.
func (c *Connector) HandleCallback(ctx context.Context, f connector.Flow, r *http.Request) (connector.Identity, error) {
	if err := checkFlow(f); err != nil {
		return connector.Identity{}, err
	}
	// GitHub sends error=access_denied when the user cancels.
	code, err := oauth2.CallbackCode(r)
	if err != nil {
		return connector.Identity{}, err
	}
	// Without Accept: application/json GitHub answers form-encoded; either
	// way it reports a bad code as 200 with an "error" field, which
	// x/oauth2 turns into a RetrieveError.
	tokenClient := *c.client
	tokenClient.Transport = acceptJSON{base: c.client.Transport}
	tok, err := c.oauth.Exchange(context.WithValue(ctx, xoauth2.HTTPClient, &tokenClient), code,
		xoauth2.SetAuthURLParam("redirect_uri", f.CallbackURL))
	if err != nil {
		return connector.Identity{}, oauth2.ExchangeError(err)
	}

	var user struct {
		ID        json.Number `json:"id"`
		Login     string      `json:"login"`
		Name      string      `json:"name"`
		AvatarURL string      `json:"avatar_url"`
	}
	if err := c.get(ctx, "/user", tok.AccessToken, &user); err != nil {
		return connector.Identity{}, err
	}
	if _, err := strconv.ParseUint(user.ID.String(), 10, 64); err != nil {
		return connector.Identity{}, &connector.UpstreamError{Description: "GitHub's user API sent no numeric user id", Err: fmt.Errorf("id %q", user.ID)}
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := c.get(ctx, "/user/emails", tok.AccessToken, &emails); err != nil {
		return connector.Identity{}, err
	}

	id := connector.Identity{
		UserID:   user.ID.String(),
		Nickname: user.Login,
		Name:     user.Name,
		Picture:  user.AvatarURL,
	}
	if id.Name == "" {
		id.Name = user.Login
	}
	// Only an address GitHub has verified is worth passing on: anyone can
	// add an unverified one, including someone else's.
	for _, e := range emails {
		if e.Primary && e.Verified && e.Email != "" {
			id.Email, id.EmailVerified = e.Email, true
			break
		}
	}
	return id, nil
}

// get reads one REST API resource into v.
func (c *Connector) get(ctx context.Context, path, accessToken string, v any) error {
	body, err := oauth2.GetJSON(ctx, c.client, c.apiURL+path, accessToken, apiMediaType)
	if err != nil {
		return &connector.UpstreamError{Description: "the GitHub API request " + path + " failed" + oauth2.Reason(err), Err: err}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &connector.UpstreamError{Description: "the GitHub API answer to " + path + " is malformed", Err: err}
	}
	return nil
}

// acceptJSON asks the token endpoint for JSON.
type acceptJSON struct{ base http.RoundTripper }

func (t acceptJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "application/json")
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

package store

import (
	"context"
	"time"
)

// Connection strategies.
const (
	StrategyDatabase = "database"
	StrategyGitHub   = "github"
	StrategyOIDC     = "oidc"
	StrategyOAuth2   = "oauth2"
)

// Connection is a source of identities.
type Connection struct {
	Name     string // unique, e.g. "github"
	Strategy string // StrategyDatabase, StrategyGitHub, StrategyOIDC or StrategyOAuth2
	// Upstream client registration.
	ClientID string
	// ClientSecretSealed is the upstream client secret sealed with the
	// master key (additional data: the connection name); the store only
	// keeps the bytes.
	ClientSecretSealed []byte
	Issuer             string // oidc: discovery at Issuer/.well-known/openid-configuration
	AuthorizeURL       string // oauth2
	TokenURL           string // oauth2
	UserinfoURL        string // oauth2
	BaseURL            string // github: web base URL (GitHub Enterprise Server); empty for github.com
	APIURL             string // github: API base URL; empty for api.github.com
	Scopes             []string
	// ClaimMapping maps Gatehouse profile fields (sub, email,
	// email_verified, name, nickname, picture, given_name, family_name) to
	// upstream claim names, for oidc and oauth2.
	ClaimMapping   map[string]string
	EnabledClients []string // client ids the connection is enabled for
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ConnectionStore keeps connections and finds users by their identities.
type ConnectionStore interface {
	CreateConnection(ctx context.Context, c Connection) error // ErrConflict on a taken name
	GetConnection(ctx context.Context, name string) (Connection, error)
	ListConnections(ctx context.Context) ([]Connection, error)
	UpdateConnection(ctx context.Context, c Connection) error // replaces every field but Name and CreatedAt; ErrNotFound
	DeleteConnection(ctx context.Context, name string) error  // ErrNotFound
	// SetConnectionEnabled enables or disables the connection for a client,
	// atomically (concurrent calls for other clients are not lost).
	SetConnectionEnabled(ctx context.Context, name, clientID string, enabled bool) error // ErrNotFound

	// GetUserByIdentity finds the user holding the identity
	// (connection, provider user id).
	GetUserByIdentity(ctx context.Context, connection, providerUserID string) (User, error)
}

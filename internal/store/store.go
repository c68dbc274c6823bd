package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors returned by every Store implementation. Callers test them
// with errors.Is; backends wrap them with the operation that failed.
var (
	// ErrNotFound means the record does not exist (or has expired, where the
	// method says so).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique key (client id, email, name) is taken.
	ErrConflict = errors.New("already exists")
	// ErrAlreadyUsed means a single-use value (authorization code,
	// authorization request) was consumed before.
	ErrAlreadyUsed = errors.New("already used")
	// ErrReused means a refresh token that had already been rotated was
	// presented again; the backend has revoked its whole family.
	ErrReused = errors.New("refresh token reused")
	// ErrRevoked means the record was revoked.
	ErrRevoked = errors.New("revoked")
	// ErrUnavailable means the database could not be reached or did not
	// answer in time; the request may be retried later (HTTP 503).
	ErrUnavailable = errors.New("database unavailable")
)

// DefaultDatabaseConnection is the name of the built-in username/password
// connection.
const DefaultDatabaseConnection = "Username-Password-Authentication"

// Client is a registered application (an OAuth 2.0 client).
type Client struct {
	ID                 string
	SecretHash         string // argon2id/SHA-256 hash of the secret; never the secret itself
	Name               string
	Type               string   // ClientRegularWeb ("" means it too), ClientSPA, ClientNative or ClientM2M
	Callbacks          []string // allowed redirect URIs, matched exactly
	LogoutURLs         []string
	GrantTypes         []string
	FirstParty         bool
	AllowOfflineAccess bool
	// TokenEndpointAuthMethod is how the client authenticates at the token
	// endpoint: AuthMethodSecretBasic ("" means it too), AuthMethodSecretPost
	// or AuthMethodNone (a public client, whose SecretHash is empty).
	TokenEndpointAuthMethod string
	// Token lifetimes; zero means the server default.
	IDTokenTTL     time.Duration
	AccessTokenTTL time.Duration
	Refresh        RefreshPolicy
	// Organizations: OrgUsageDeny ("" means deny), OrgUsageAllow or
	// OrgUsageRequire, and with require the OrgBehavior* without an
	// organization parameter.
	OrganizationUsage    string
	OrganizationBehavior string
	// InitiateLoginURI is the application's login route that invitation
	// links open (OIDC Core's initiate_login_uri).
	InitiateLoginURI string
	// MFAPolicy is the application's second-factor policy: "never",
	// "optional" or "always"; "" inherits the server's mfa.policy.
	MFAPolicy string
	// RequireVerifiedEmail holds logins back until the user has verified
	// their email address.
	RequireVerifiedEmail bool
	// WebOrigins are the browser origins (scheme://host[:port]) that may
	// frame the web_message response of a single-page application.
	WebOrigins []string
	// AllowedOrigins are the browser origins allowed to call the token,
	// userinfo and revocation endpoints, discovery and JWKS (CORS).
	AllowedOrigins []string
	// RequirePKCE makes a confidential client send a PKCE challenge; public
	// clients always must.
	RequirePKCE bool
	// IDTokenSigningAlg is the application's id_token_signed_response_alg:
	// "RS256", "ES256" or "EdDSA"; "" means RS256.
	IDTokenSigningAlg string
	// JWKS is the JSON Web Key Set (RFC 7517) that verifies the client
	// assertions of an AuthMethodPrivateKeyJWT client; "" otherwise.
	JWKS      string
	CreatedAt time.Time
	// BackchannelLogoutURI receives the application's logout tokens
	// (OpenID Back-Channel Logout 1.0 §2.2); "" sends none.
	BackchannelLogoutURI string
}

// RefreshPolicy is a client's refresh-token policy. Zero durations mean the
// server default.
type RefreshPolicy struct {
	// NoRotation keeps one refresh token for the family's whole life
	// instead of exchanging it for a new one at every use.
	NoRotation bool
	// Overlap is how long after a rotation the previous token may still be
	// used once (two tabs refreshing at the same moment).
	Overlap time.Duration
	// Idle is how long an unused refresh token lives.
	Idle time.Duration
	// Absolute caps the family's life from the first token.
	Absolute time.Duration
}

// API is a resource server: the audience of JWT access tokens.
type API struct {
	Identifier         string // the audience value, a URI
	Name               string
	Scopes             []APIScope
	TokenLifetime      time.Duration // zero means the server default
	SigningAlgorithm   string        // "RS256", "ES256" or "EdDSA"
	AllowOfflineAccess bool
	// SkipConsentFirstParty lets first-party applications skip consent.
	SkipConsentFirstParty bool
	// RBAC (the hosted service's enforce_policies) limits a user's access
	// tokens to the scopes their permissions grant (RoleStore).
	RBAC bool
	// TokenDialect is one of TokenDialects; "" means DialectRFC9068.
	TokenDialect string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// APIScope is one permission of an API.
type APIScope struct {
	Name        string
	Description string
}

// Identity links a user to an account at one connection.
type Identity struct {
	Connection string
	Provider   string
	UserID     string // the provider's id for the user
}

// User is an end user.
type User struct {
	ID            string // "<provider>|<id>", e.g. "gatehouse|3f2a…"
	Connection    string // the connection the user was created in
	Email         string // lower-cased; unique per connection when set
	EmailVerified bool
	PasswordHash  string // PHC-formatted argon2id hash; empty for social users
	Name          string
	Nickname      string
	Picture       string
	GivenName     string
	FamilyName    string
	Blocked       bool
	LoginsCount   int
	LastLogin     time.Time
	AppMetadata   map[string]any
	UserMetadata  map[string]any
	Identities    []Identity
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// AuthRequest is a validated /authorize request waiting for the user to log
// in and consent. It is the hand-off between the protocol endpoints and the
// hosted pages: both read it by ID.
type AuthRequest struct {
	ID                  string
	ClientID            string
	RedirectURI         string
	ResponseMode        string // the mode, then " "+response type unless code (package oauth)
	Scopes              []string
	State               string
	Nonce               string
	Prompt              []string
	MaxAge              int // seconds; -1 when absent
	LoginHint           string
	CodeChallenge       string
	CodeChallengeMethod string
	Connection          string
	Audience            string
	// ACRValues are the requested authentication context classes
	// (acr_values, OIDC Core §3.1.2.1), e.g. the multi-factor policy.
	ACRValues      []string
	Organization   string // organization id, once known
	InvitationHash string // hash of the invitation ticket, when accepting one
	// BrowserHash is the hash of the binding cookie of the browser that
	// started the request; every step compares it (internal/authflow).
	BrowserHash string
	// AuthUserID and AuthMethods record who authenticated on this request
	// and how (amr values); set by RecordAuthentication.
	AuthUserID  string
	AuthMethods []string
	// ConsentUserID is the user who approved the consent page for this
	// request: the approval counts only while that user is the one logged in.
	ConsentUserID string
	// Upstream login through a connection: the connection used and the
	// values sent to the provider, cleared once its callback is consumed.
	UpstreamConnection string
	UpstreamStateHash  string // hash of the state sent upstream
	UpstreamNonce      string
	UpstreamVerifier   string
	// Error, when set, ends the request with this error for the client
	// (e.g. access_denied after the user cancelled upstream).
	Error            string
	ErrorDescription string
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

// AuthCode is an issued authorization code. ID is the SHA-256 hash of the
// code handed to the client; the code itself is never stored.
type AuthCode struct {
	ID                  string // hash of the code
	GrantID             string // ties the tokens issued for this code together
	ClientID            string
	UserID              string
	SessionID           string
	RedirectURI         string
	Scopes              []string
	Nonce               string
	Audience            string
	Organization        string // organization id; tokens carry org_id
	AuthTime            time.Time
	CodeChallenge       string
	CodeChallengeMethod string
	// AMR are the authentication methods of the session (RFC 8176 values:
	// pwd, otp, hwk, swk, mfa, …), carried into the ID token's amr.
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	Used      bool // redeemed; set by GetCode
}

// Issued is what one token response stores besides spending its code or
// refresh token. RedeemCode and RotateRefreshToken write it in the
// transaction that spends, so the response's tokens exist exactly when the
// spending succeeded, and each response costs one write transaction.
type Issued struct {
	Access  *AccessToken  // an opaque access token; nil when it is a JWT
	Refresh *RefreshToken // the first refresh token of a family (code grant)
}

// RefreshToken is one link of a rotating refresh-token family. ID is the
// SHA-256 hash of the token handed to the client.
type RefreshToken struct {
	ID           string // hash of the token
	FamilyID     string // the grant ID of the code that started the family
	ClientID     string
	UserID       string
	SessionID    string
	Scopes       []string
	Audience     string
	Organization string // organization id; refreshed tokens carry org_id
	// AMR are the authentication methods of the original login.
	AMR       []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time // expiry of this token (idle limit, capped by FamilyExpiresAt)
	// FamilyExpiresAt is the absolute end of the family, carried from token
	// to token.
	FamilyExpiresAt time.Time
	UsedAt          *time.Time // set when the token has been rotated
	// OverlapUsed records that the token was used once more within the
	// overlap period after its rotation.
	OverlapUsed bool
	Revoked     bool
}

// AccessToken is an opaque access token. ID is the SHA-256 hash of the
// token handed to the client.
type AccessToken struct {
	ID        string // hash of the token
	GrantID   string // the code grant or refresh family it belongs to
	ClientID  string
	UserID    string
	Scopes    []string
	Audience  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session is a user's single-sign-on session with the hosted pages. ID is
// the SHA-256 hash of the cookie value.
type Session struct {
	ID        string // hash of the cookie value
	UserID    string
	AuthTime  time.Time
	Methods   []string // authentication methods references, e.g. "pwd"
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Grant is a user's remembered consent to a client for an audience.
type Grant struct {
	UserID    string
	ClientID  string
	Audience  string // "" for the userinfo-only audience
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SigningKey is one JWT signing key. The private key is stored encrypted by
// the caller; the store only keeps the bytes.
type SigningKey struct {
	ID               string // the JWK "kid"
	Algorithm        string // "RS256", "ES256", "EdDSA"
	State            string // KeyNext, KeyCurrent or KeyPrevious
	PrivateEncrypted []byte
	PublicJWK        []byte // JSON of the public JWK
	CreatedAt        time.Time
	// RetireAt is when a previous key stops being published: after the last
	// token it signed has expired. Zero for next and current keys.
	RetireAt time.Time
	// RevokedAt is when the key was revoked (RevokeSigningKey); zero if
	// it never was.
	RevokedAt time.Time
}

// Signing key states. JWKS publishes all three; only the current key signs.
const (
	KeyNext     = "next"
	KeyCurrent  = "current"
	KeyPrevious = "previous"
)

// Store is the persistence interface of Gatehouse. Every implementation
// passes the conformance suite in package storetest. Each method is atomic;
// read-modify-write sequences run inside one backend transaction.
type Store interface {
	ClientGrantStore
	ClientAssertionStore
	JobStore
	ConnectionStore
	OrganizationStore
	AuthRequestSteps
	FactorStore
	Throttler
	TicketStore
	CeremonyStore
	SessionSteps
	RoleStore
	UserDirectory
	SigningKeyRevoker
	LogStore
	BackchannelLogouts
	CertCache
	RefreshRotator

	// Clients.
	CreateClient(ctx context.Context, c Client) error // ErrConflict on a taken ID
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, c Client) error  // replaces every field but ID and CreatedAt; ErrNotFound
	DeleteClient(ctx context.Context, id string) error // ErrNotFound

	// APIs.
	CreateAPI(ctx context.Context, a API) error // ErrConflict on a taken identifier
	GetAPI(ctx context.Context, identifier string) (API, error)
	ListAPIs(ctx context.Context) ([]API, error)
	UpdateAPI(ctx context.Context, a API) error // replaces every field but Identifier and CreatedAt; ErrNotFound
	DeleteAPI(ctx context.Context, identifier string) error

	// Users.
	CreateUser(ctx context.Context, u User) error // ErrConflict on a taken ID or (connection, email)
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, connection, email string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, u User) error // replaces every field but ID and CreatedAt; ErrNotFound
	// RecordLogin increments the login count and sets the last login time.
	RecordLogin(ctx context.Context, userID string, at time.Time) error
	// LinkUsers merges secondary into primary atomically: the secondary's
	// identities move to the primary (after its own), its organization
	// memberships are added to the primary's, and the secondary user is
	// deleted with everything issued to it. It returns the primary as
	// updated. ErrNotFound when either user is missing; an error (nothing
	// changed) when both are the same user.
	LinkUsers(ctx context.Context, primaryID, secondaryID string) (User, error)
	// DeleteUser removes the user and everything issued to them (sessions,
	// grants, codes, tokens).
	DeleteUser(ctx context.Context, id string) error

	// Authorization requests.
	CreateAuthRequest(ctx context.Context, r AuthRequest) error
	// GetAuthRequest returns ErrNotFound for unknown or expired requests.
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	// ConsumeAuthRequestForCode deletes the request and stores the code in
	// one transaction; ErrNotFound when the request is gone (already used
	// or expired), so one request yields at most one code.
	ConsumeAuthRequestForCode(ctx context.Context, requestID string, code AuthCode) error
	// ConsumeUpstreamState atomically checks that the request's
	// UpstreamStateHash equals stateHash and clears it, returning the
	// request as it was; ErrNotFound when the request is gone or the hash
	// does not match (a forged or replayed upstream callback).
	ConsumeUpstreamState(ctx context.Context, requestID, stateHash string) (AuthRequest, error)
	// DeleteAuthRequest removes a request (after an error response).
	DeleteAuthRequest(ctx context.Context, id string) error

	// Authorization codes.
	// CreateCode stores a code issued without a stored request (a session
	// that needed no page); ErrConflict on a taken ID.
	CreateCode(ctx context.Context, c AuthCode) error
	// GetCode returns a live code, redeemed or not (Used); ErrNotFound for
	// unknown or expired codes. It changes nothing: RedeemCode decides.
	GetCode(ctx context.Context, id string, now time.Time) (AuthCode, error)
	// RedeemCode marks the code used, stores issued's tokens and returns
	// the code, atomically. A code redeemed before returns ErrAlreadyUsed
	// (with the code, so the caller knows the grant), stores nothing, and
	// the backend revokes every token of its grant; an unknown or expired
	// code returns ErrNotFound.
	RedeemCode(ctx context.Context, id string, now time.Time, issued Issued) (AuthCode, error)

	// Access tokens.
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// GetAccessToken returns ErrNotFound for unknown, revoked or expired tokens.
	GetAccessToken(ctx context.Context, id string, now time.Time) (AccessToken, error)
	// GetAccessTokenUser is GetAccessToken and GetUser of its user in one
	// read (UserInfo's); ErrNotFound also when the user is gone.
	GetAccessTokenUser(ctx context.Context, id string, now time.Time) (AccessToken, User, error)
	RevokeAccessToken(ctx context.Context, id string) error

	// Refresh tokens.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, id string) (RefreshToken, error)
	// RotateRefreshToken marks old used and stores next and access (when
	// not nil), atomically; on any error it stores neither.
	// ErrNotFound: unknown or expired; ErrRevoked: family revoked;
	// ErrReused: old had been rotated before — the whole family (and its
	// access tokens) is now revoked — unless the rotation happened less
	// than overlap ago and the token had not yet been used in that
	// overlap: then OverlapUsed is set and next is stored as a sibling.
	// next.FamilyID must be old's family.
	RotateRefreshToken(ctx context.Context, oldID string, next RefreshToken, now time.Time, overlap time.Duration, access *AccessToken) (RefreshToken, error)
	// ExtendRefreshToken sets the ExpiresAt of a live refresh token (not
	// rotated, not revoked, not expired at now): the idle lifetime of a
	// token that does not rotate. ErrNotFound otherwise.
	ExtendRefreshToken(ctx context.Context, id string, expiresAt, now time.Time) error
	// RevokeGrant revokes every refresh and access token of a grant/family.
	RevokeGrant(ctx context.Context, grantID string) error

	// Sessions.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for unknown or expired sessions.
	GetSession(ctx context.Context, id string, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, id string) error

	// Consent grants.
	// UpsertGrant stores the consent, adding scopes to any earlier consent
	// of the same user, client and audience.
	UpsertGrant(ctx context.Context, g Grant) error
	GetGrant(ctx context.Context, userID, clientID, audience string) (Grant, error)

	// Throttling.
	// AddFailure counts one failed attempt for key in the fixed window that
	// contains now and returns the count in that window after the increment.
	AddFailure(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// Failures returns the count in the window that contains now.
	Failures(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// ResetFailures clears the counter for key.
	ResetFailures(ctx context.Context, key string) error

	// Signing keys. Each algorithm has its own ring of next, current and
	// previous keys.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// RotateSigningKeys applies one rotation of the ring of algorithm alg
	// atomically: the current key becomes previous (retiring at retireAt),
	// the next key becomes current, and newNext is stored as next. With no
	// keys of alg at all (first start) it stores initial as current and
	// newNext as next. Keys of alg whose RetireAt is before now are deleted.
	// It returns ErrConflict when expectCurrent is not the ID of alg's
	// current key ("" when there is none), so concurrent rotations never
	// skip a key. Rings of other algorithms are not touched.
	RotateSigningKeys(ctx context.Context, alg, expectCurrent string, initial *SigningKey, newNext SigningKey, retireAt, now time.Time) error

	// DeleteExpired removes expired requests, codes, sessions, tokens and
	// throttle windows, and returns how many rows went.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)

	// Ping checks that the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

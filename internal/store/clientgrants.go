package store

import (
	"context"
	"time"
)

// ClientGrant lets an application get access tokens for an API without a
// user (the client_credentials grant): the audience and the scopes it may
// ask for.
type ClientGrant struct {
	ID        string // "cgr_…"
	ClientID  string
	Audience  string // the API's identifier
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientGrantFilter selects client grants; an empty field matches any.
type ClientGrantFilter struct {
	ClientID string
	Audience string
}

// ClientGrantStore keeps client grants. A grant goes with its application
// and its API: DeleteClient and DeleteAPI remove their grants in the same
// transaction, so that an application or API registered again under the
// same ID starts with none, and a grant is never stored for one that does
// not exist.
type ClientGrantStore interface {
	// CreateClientGrant stores g. ErrConflict when its ID is taken or the
	// client has a grant for the audience already; ErrNotFound when the
	// client or the API does not exist.
	CreateClientGrant(ctx context.Context, g ClientGrant) error
	// GetClientGrant returns the grant with the ID; ErrNotFound.
	GetClientGrant(ctx context.Context, id string) (ClientGrant, error)
	// ListClientGrants returns the grants the filter selects, by client ID,
	// then audience, in byte order.
	ListClientGrants(ctx context.Context, f ClientGrantFilter) ([]ClientGrant, error)
	// UpdateClientGrant replaces the grant's Scopes and UpdatedAt;
	// ErrNotFound.
	UpdateClientGrant(ctx context.Context, g ClientGrant) error
	// DeleteClientGrant removes the grant; ErrNotFound.
	DeleteClientGrant(ctx context.Context, id string) error
}

package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"gatehouse/internal/store"
)

// orgFieldColumns are the organization columns that UpdateOrganization
// replaces: all but id and created_at. Connections are the rows of
// org_connections.
const orgFieldColumns = `name, display_name, logo_url, primary_color, updated_at, page_background, metadata`

// orgSelect reads organizations with their connections, aggregated in byte
// order of name into one JSONB array, so that an organization and its
// connections come from the same snapshot in one row.
const orgSelect = `SELECT o.id, o.created_at, ` + orgFieldColumns + `,
	coalesce((SELECT jsonb_agg(jsonb_build_object('name', oc.connection, 'assign_membership', oc.assign_membership)
			ORDER BY oc.connection COLLATE "C")
		FROM org_connections oc WHERE oc.org_id = o.id), '[]')
	FROM organizations o`

const invitationColumns = `id, ticket_hash, org_id, email, client_id, connection, created_at,
	expires_at, used_at, used_by, revoked, inviter`

const (
	qInsertOrganization = `INSERT INTO organizations (id, created_at, ` + orgFieldColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	qUpdateOrganization = `UPDATE organizations SET (` + orgFieldColumns + `)
		= ($2, $3, $4, $5, $6, $7, $8) WHERE id = $1`
	// qInsertOrgConnections enables connections from two parallel arrays.
	qInsertOrgConnections = `INSERT INTO org_connections (org_id, connection, assign_membership)
		SELECT $1, c.name, c.assign FROM unnest($2::text[], $3::boolean[]) AS c (name, assign)`

	// qSetOrgConnection and qUnsetOrgConnection write one row each, so
	// that concurrent changes of other connections cannot be lost; they
	// report whether the organization exists. Enabling again replaces the
	// membership setting.
	qSetOrgConnection = `WITH org AS (SELECT id FROM organizations WHERE id = $1),
		enable AS (
			INSERT INTO org_connections (org_id, connection, assign_membership)
			SELECT id, $2, $3 FROM org
			ON CONFLICT (org_id, connection) DO UPDATE SET assign_membership = excluded.assign_membership
		)
		SELECT count(*) FROM org`
	qUnsetOrgConnection = `WITH org AS (SELECT id FROM organizations WHERE id = $1),
		disable AS (DELETE FROM org_connections WHERE org_id = $1 AND connection = $2)
		SELECT count(*) FROM org`

	// qAddMember adds the membership unless it is there, and reports
	// whether the organization and the user exist.
	qAddMember = `WITH org AS (SELECT id FROM organizations WHERE id = $1),
		usr AS (SELECT id FROM users WHERE id = $2),
		add AS (
			INSERT INTO org_members (org_id, user_id) SELECT org.id, usr.id FROM org, usr
			ON CONFLICT DO NOTHING
		)
		SELECT EXISTS (SELECT 1 FROM org), EXISTS (SELECT 1 FROM usr)`

	qInsertInvitation = `INSERT INTO invitations (` + invitationColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	qSelectInvitation = `SELECT ` + invitationColumns + ` FROM invitations`
)

// orgConnection is the JSON shape of a store.OrgConnection in orgSelect.
type orgConnection struct {
	Name             string `json:"name"`
	AssignMembership bool   `json:"assign_membership"`
}

func scanOrganization(row pgx.CollectableRow) (store.Organization, error) {
	var o store.Organization
	var conns []orgConnection
	err := row.Scan(&o.ID, &o.CreatedAt, &o.Name, &o.DisplayName, &o.LogoURL, &o.PrimaryColor,
		&o.UpdatedAt, &o.PageBackground, &o.Metadata, &conns)
	if len(o.Metadata) == 0 {
		o.Metadata = nil // none reads back as it was written
	}
	for _, c := range conns {
		o.Connections = append(o.Connections, store.OrgConnection(c))
	}
	o.CreatedAt, o.UpdatedAt = utc(o.CreatedAt), utc(o.UpdatedAt)
	return o, err
}

// insertOrgConnections enables the connections for the organization. A name
// given twice keeps its last setting.
func insertOrgConnections(ctx context.Context, tx pgx.Tx, orgID string, cs []store.OrgConnection) error {
	if len(cs) == 0 {
		return nil
	}
	last := make(map[string]int, len(cs))
	var names []string
	var assign []bool
	for _, c := range cs {
		if i, ok := last[c.Name]; ok {
			assign[i] = c.AssignMembership
			continue
		}
		last[c.Name] = len(names)
		names, assign = append(names, c.Name), append(assign, c.AssignMembership)
	}
	_, err := tx.Exec(ctx, qInsertOrgConnections, orgID, names, assign)
	return err
}

// CreateOrganization stores o with its connections; ErrConflict when its ID
// or name is taken.
func (db *DB) CreateOrganization(ctx context.Context, o store.Organization) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, qInsertOrganization, o.ID, o.CreatedAt, o.Name, o.DisplayName, o.LogoURL,
			o.PrimaryColor, o.UpdatedAt, o.PageBackground, metadataJSON(o.Metadata)); err != nil {
			return err
		}
		return insertOrgConnections(ctx, tx, o.ID, o.Connections)
	})
	return fail("create organization", err)
}

// GetOrganization returns the organization with the ID, its connections by
// name; ErrNotFound.
func (db *DB) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	o, err := queryOne(ctx, db.pool, scanOrganization, orgSelect+` WHERE o.id = $1`, id)
	if err != nil {
		return store.Organization{}, fail("get organization", err)
	}
	return o, nil
}

// GetOrganizationByName returns the organization with the name, its
// connections by name; ErrNotFound.
func (db *DB) GetOrganizationByName(ctx context.Context, name string) (store.Organization, error) {
	o, err := queryOne(ctx, db.pool, scanOrganization, orgSelect+` WHERE o.name = $1`, name)
	if err != nil {
		return store.Organization{}, fail("get organization by name", err)
	}
	return o, nil
}

// ListOrganizations returns every organization, by name in byte order.
func (db *DB) ListOrganizations(ctx context.Context) ([]store.Organization, error) {
	orgs, err := queryAll(ctx, db.pool, scanOrganization, orgSelect+` ORDER BY o.name COLLATE "C"`)
	if err != nil {
		return nil, fail("list organizations", err)
	}
	return orgs, nil
}

// UpdateOrganization replaces every field of the organization but ID and
// CreatedAt, Connections included; ErrNotFound; ErrConflict when the name
// is another organization's. A caller that changes one connection only
// uses SetOrgConnection, which cannot lose a concurrent change of another.
func (db *DB) UpdateOrganization(ctx context.Context, o store.Organization) error {
	n, err := db.exec(ctx, qUpdateOrganization, o.ID, o.Name, o.DisplayName, o.LogoURL, o.PrimaryColor, o.UpdatedAt,
		o.PageBackground, metadataJSON(o.Metadata))
	return fail("update organization", changed(n, err))
}

// DeleteOrganization removes the organization with its connections, members
// and invitations (ON DELETE CASCADE); ErrNotFound.
func (db *DB) DeleteOrganization(ctx context.Context, id string) error {
	return fail("delete organization", changed(db.exec(ctx, `DELETE FROM organizations WHERE id = $1`, id)))
}

// SetOrgConnection enables the connection for the organization, with its
// membership setting, or disables it, in one statement on its own row.
// Enabling again replaces the setting; disabling a connection that is not
// enabled succeeds; the connection name is not checked. ErrNotFound for an
// unknown organization.
func (db *DB) SetOrgConnection(ctx context.Context, orgID string, c store.OrgConnection, enabled bool) error {
	var n int64
	err := retry(ctx, func() error {
		if enabled {
			return db.pool.QueryRow(ctx, qSetOrgConnection, orgID, c.Name, c.AssignMembership).Scan(&n)
		}
		return db.pool.QueryRow(ctx, qUnsetOrgConnection, orgID, c.Name).Scan(&n)
	})
	if isForeignKeyViolation(err) {
		err = store.ErrNotFound // the organization was deleted meanwhile
	}
	return fail("set organization connection", changed(n, err))
}

// isForeignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation: a row inserted for a parent that another
// transaction deleted since the statement looked.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// addMember makes the user a member of the organization unless it is one,
// in one statement; ErrNotFound naming the organization or user that is
// missing.
func addMember(ctx context.Context, q querier, orgID, userID string) error {
	var orgOK, userOK bool
	err := q.QueryRow(ctx, qAddMember, orgID, userID).Scan(&orgOK, &userOK)
	switch {
	case isForeignKeyViolation(err):
		return fmt.Errorf("organization %q or user %q deleted meanwhile: %w", orgID, userID, store.ErrNotFound)
	case err != nil:
		return err
	case !orgOK:
		return fmt.Errorf("organization %q: %w", orgID, store.ErrNotFound)
	case !userOK:
		return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	}
	return nil
}

// AddMember makes the user a member of the organization; being one already
// is no error. ErrNotFound for an unknown organization or user.
func (db *DB) AddMember(ctx context.Context, orgID, userID string) error {
	err := retry(ctx, func() error { return addMember(ctx, db.pool, orgID, userID) })
	return fail("add member", err)
}

// RemoveMember ends the membership; ErrNotFound when there is none.
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string) error {
	return fail("remove member", changed(db.exec(ctx,
		`DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID)))
}

// ListMembers returns the IDs of the organization's members in byte order;
// none for an unknown organization.
func (db *DB) ListMembers(ctx context.Context, orgID string) ([]string, error) {
	ids, err := queryAll(ctx, db.pool, pgx.RowTo[string],
		`SELECT user_id FROM org_members WHERE org_id = $1 ORDER BY user_id COLLATE "C"`, orgID)
	if err != nil {
		return nil, fail("list members", err)
	}
	return ids, nil
}

// IsMember reports whether the user is a member of the organization; false
// for an unknown organization or user.
func (db *DB) IsMember(ctx context.Context, orgID, userID string) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1 AND user_id = $2)`,
		orgID, userID).Scan(&ok)
	if err != nil {
		return false, fail("is member", err)
	}
	return ok, nil
}

// UserOrganizations returns the organizations the user is a member of, by
// name in byte order; none for an unknown user.
func (db *DB) UserOrganizations(ctx context.Context, userID string) ([]store.Organization, error) {
	orgs, err := queryAll(ctx, db.pool, scanOrganization, orgSelect+`
		WHERE o.id IN (SELECT org_id FROM org_members WHERE user_id = $1) ORDER BY o.name COLLATE "C"`, userID)
	if err != nil {
		return nil, fail("user organizations", err)
	}
	return orgs, nil
}

func scanInvitation(row pgx.CollectableRow) (store.Invitation, error) {
	var inv store.Invitation
	err := row.Scan(&inv.ID, &inv.TicketHash, &inv.OrganizationID, &inv.Email, &inv.ClientID,
		&inv.Connection, &inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt, &inv.UsedBy, &inv.Revoked, &inv.Inviter)
	inv.CreatedAt, inv.ExpiresAt = utc(inv.CreatedAt), utc(inv.ExpiresAt)
	if inv.UsedAt != nil {
		t := inv.UsedAt.UTC()
		inv.UsedAt = &t
	}
	return inv, err
}

// CreateInvitation stores inv; ErrConflict when its ID or ticket hash is
// taken, ErrNotFound when its organization is unknown. The client ID is not
// checked.
func (db *DB) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	_, err := db.exec(ctx, qInsertInvitation, inv.ID, inv.TicketHash, inv.OrganizationID, inv.Email,
		inv.ClientID, inv.Connection, inv.CreatedAt, inv.ExpiresAt, inv.UsedAt, inv.UsedBy, inv.Revoked, inv.Inviter)
	if isForeignKeyViolation(err) {
		err = fmt.Errorf("organization %q: %w", inv.OrganizationID, store.ErrNotFound)
	}
	return fail("create invitation", err)
}

// GetInvitation returns the invitation with the ID, whatever its state;
// ErrNotFound.
func (db *DB) GetInvitation(ctx context.Context, id string) (store.Invitation, error) {
	inv, err := queryOne(ctx, db.pool, scanInvitation, qSelectInvitation+` WHERE id = $1`, id)
	if err != nil {
		return store.Invitation{}, fail("get invitation", err)
	}
	return inv, nil
}

// GetInvitationByTicket returns the invitation with the ticket hash,
// whatever its state; ErrNotFound.
func (db *DB) GetInvitationByTicket(ctx context.Context, ticketHash string) (store.Invitation, error) {
	inv, err := queryOne(ctx, db.pool, scanInvitation, qSelectInvitation+` WHERE ticket_hash = $1`, ticketHash)
	if err != nil {
		return store.Invitation{}, fail("get invitation by ticket", err)
	}
	return inv, nil
}

// ListInvitations returns the organization's invitations in every state, by
// CreatedAt and then ID in byte order; none for an unknown organization.
func (db *DB) ListInvitations(ctx context.Context, orgID string) ([]store.Invitation, error) {
	invs, err := queryAll(ctx, db.pool, scanInvitation,
		qSelectInvitation+` WHERE org_id = $1 ORDER BY created_at, id COLLATE "C"`, orgID)
	if err != nil {
		return nil, fail("list invitations", err)
	}
	return invs, nil
}

// RevokeInvitation marks the invitation revoked, used or not; revoking
// twice is no error. ErrNotFound.
func (db *DB) RevokeInvitation(ctx context.Context, id string) error {
	return fail("revoke invitation", changed(db.exec(ctx, `UPDATE invitations SET revoked = true WHERE id = $1`, id)))
}

// AcceptInvitation checks the invitation with the ticket hash, marks it used
// by userID at now and makes userID a member of its organization, in one
// transaction that holds the invitation's row lock, so that of concurrent
// accepts one wins and the others see it used. It returns the invitation as
// it is then. The checks run in the order of checkInvitation; an unknown
// user is ErrNotFound too. A refused invitation is left as it was.
func (db *DB) AcceptInvitation(ctx context.Context, ticketHash, orgID, email, userID string, now time.Time) (store.Invitation, error) {
	var inv store.Invitation
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = queryOne(ctx, tx, scanInvitation, qSelectInvitation+` WHERE ticket_hash = $1 FOR UPDATE`, ticketHash)
		if err != nil {
			return err
		}
		if err := checkInvitation(inv, orgID, email, now); err != nil {
			return err
		}
		inv, err = queryOne(ctx, tx, scanInvitation, `UPDATE invitations SET used_at = $2, used_by = $3
			WHERE id = $1 RETURNING `+invitationColumns, inv.ID, now, userID)
		if err != nil {
			return err
		}
		return addMember(ctx, tx, inv.OrganizationID, userID)
	})
	if err != nil {
		return store.Invitation{}, fail("accept invitation", err)
	}
	return inv, nil
}

// checkInvitation decides whether inv may be accepted for orgID and email at
// now. The order is fixed so that every backend reports the same error:
// ErrRevoked, ErrAlreadyUsed, ErrExpired (now at or after ExpiresAt), then
// ErrMismatch for another organization or an email that differs once both
// are lower-cased.
func checkInvitation(inv store.Invitation, orgID, email string, now time.Time) error {
	switch {
	case inv.Revoked:
		return store.ErrRevoked
	case inv.UsedAt != nil:
		return store.ErrAlreadyUsed
	case !now.Before(inv.ExpiresAt):
		return store.ErrExpired
	case inv.OrganizationID != orgID:
		return fmt.Errorf("invitation is for another organization: %w", store.ErrMismatch)
	case strings.ToLower(inv.Email) != strings.ToLower(email):
		return fmt.Errorf("invitation is for another email: %w", store.ErrMismatch)
	}
	return nil
}

// metadataJSON encodes an organization's metadata as JSON text; none is {}.
func metadataJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Unreachable: maps of strings always encode.
		return "{}"
	}
	return string(b)
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// orgFieldColumns are the organization columns that UpdateOrganization
// replaces: all but id and created_at. Connections are the rows of
// org_connections.
const orgFieldColumns = `name, display_name, logo_url, primary_color, updated_at, page_background, metadata`

// orgSelect reads organizations with their connections, one row per
// connection (or one row with NULL connection columns), in one statement so
// that an organization and its connections come from the same snapshot.
// Every query on it orders by o.name first, which keeps each organization's
// rows together (names are unique), then by oc.connection in byte order
// (the BINARY collation), the order Connections has.
const orgSelect = `SELECT o.id, o.created_at, o.name, o.display_name, o.logo_url,
	o.primary_color, o.updated_at, o.page_background, o.metadata, oc.connection, oc.assign_membership
	FROM organizations o LEFT JOIN org_connections oc ON oc.org_id = o.id`

const invitationColumns = `id, ticket_hash, org_id, email, client_id, connection, created_at,
	expires_at, used_at, used_by, revoked, inviter`

const (
	qInsertOrganization = `INSERT INTO organizations (id, created_at, ` + orgFieldColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetOrganization       = orgSelect + ` WHERE o.id = ? ORDER BY o.name, oc.connection`
	qGetOrganizationByName = orgSelect + ` WHERE o.name = ? ORDER BY o.name, oc.connection`
	qListOrganizations     = orgSelect + ` ORDER BY o.name, oc.connection`
	qUserOrganizations     = orgSelect + ` WHERE o.id IN (SELECT org_id FROM org_members WHERE user_id = ?)
		ORDER BY o.name, oc.connection`
	qUpdateOrganization = `UPDATE organizations SET (` + orgFieldColumns + `)
		= (?, ?, ?, ?, ?, ?, ?) WHERE id = ?`
	// Its connections, members and invitations go with it (ON DELETE CASCADE).
	qDeleteOrganization = `DELETE FROM organizations WHERE id = ?`
	qOrganizationExists = `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?)`

	// qEnableOrgConnection enables a connection or changes its membership
	// setting; a name given twice keeps the last setting.
	qEnableOrgConnection = `INSERT INTO org_connections (org_id, connection, assign_membership)
		VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET assign_membership = excluded.assign_membership`
	qDisableOrgConnection = `DELETE FROM org_connections WHERE org_id = ? AND connection = ?`

	qUserExists   = `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`
	qAddMember    = `INSERT INTO org_members (org_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qRemoveMember = `DELETE FROM org_members WHERE org_id = ? AND user_id = ?`
	qListMembers  = `SELECT user_id FROM org_members WHERE org_id = ? ORDER BY user_id`
	qIsMember     = `SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = ? AND user_id = ?)`

	qInsertInvitation = `INSERT INTO invitations (` + invitationColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetInvitation         = `SELECT ` + invitationColumns + ` FROM invitations WHERE id = ?`
	qGetInvitationByTicket = `SELECT ` + invitationColumns + ` FROM invitations WHERE ticket_hash = ?`
	qListInvitations       = `SELECT ` + invitationColumns + ` FROM invitations WHERE org_id = ?
		ORDER BY created_at, id`
	qRevokeInvitation = `UPDATE invitations SET revoked = 1 WHERE id = ?`
	qUseInvitation    = `UPDATE invitations SET used_at = ?, used_by = ? WHERE id = ?`
)

// orgFields returns the arguments for orgFieldColumns.
func orgFields(o store.Organization) []any {
	return []any{o.Name, o.DisplayName, o.LogoURL, o.PrimaryColor, millis(o.UpdatedAt),
		o.PageBackground, metadataJSON(o.Metadata)}
}

// metadataJSON encodes an organization's metadata; none is {}.
func metadataJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	return stringMapJSON(m)
}

// enableOrgConnections enables each connection for the organization.
func enableOrgConnections(ctx context.Context, t tx, orgID string, cs []store.OrgConnection) error {
	for _, c := range cs {
		if _, err := t.exec(ctx, qEnableOrgConnection, orgID, c.Name, c.AssignMembership); err != nil {
			return err
		}
	}
	return nil
}

// scanOrganizations reads the rows of orgSelect, which come grouped by
// organization.
func scanOrganizations(rows *sql.Rows) ([]store.Organization, error) {
	defer rows.Close()
	var orgs []store.Organization
	for rows.Next() {
		var o store.Organization
		var conn sql.NullString
		var assign sql.NullBool
		if err := rows.Scan(&o.ID, timeCol{&o.CreatedAt}, &o.Name, &o.DisplayName, &o.LogoURL,
			&o.PrimaryColor, timeCol{&o.UpdatedAt}, &o.PageBackground, jsonCol{&o.Metadata}, &conn, &assign); err != nil {
			return nil, err
		}
		if len(o.Metadata) == 0 {
			o.Metadata = nil // none reads back as it was written
		}
		if n := len(orgs); n == 0 || orgs[n-1].ID != o.ID {
			orgs = append(orgs, o)
		}
		if conn.Valid {
			last := &orgs[len(orgs)-1]
			last.Connections = append(last.Connections, store.OrgConnection{
				Name: conn.String, AssignMembership: assign.Bool,
			})
		}
	}
	return orgs, rows.Err()
}

func (db *DB) getOrganization(ctx context.Context, q string, arg string) (store.Organization, error) {
	rows, err := db.query(ctx, q, arg)
	if err != nil {
		return store.Organization{}, err
	}
	orgs, err := scanOrganizations(rows)
	if err != nil {
		return store.Organization{}, err
	}
	if len(orgs) == 0 {
		return store.Organization{}, store.ErrNotFound
	}
	return orgs[0], nil
}

func (db *DB) listOrganizations(ctx context.Context, q string, args ...any) ([]store.Organization, error) {
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanOrganizations(rows)
}

// CreateOrganization stores o with its connections; ErrConflict when its ID
// or name is taken.
func (db *DB) CreateOrganization(ctx context.Context, o store.Organization) error {
	err := db.inTx(ctx, func(t tx) error {
		args := append([]any{o.ID, millis(o.CreatedAt)}, orgFields(o)...)
		if _, err := t.exec(ctx, qInsertOrganization, args...); err != nil {
			return err
		}
		return enableOrgConnections(ctx, t, o.ID, o.Connections)
	})
	return fail("create organization", err)
}

// GetOrganization returns the organization with the ID, its connections by
// name; ErrNotFound.
func (db *DB) GetOrganization(ctx context.Context, id string) (store.Organization, error) {
	o, err := db.getOrganization(ctx, qGetOrganization, id)
	return o, fail("get organization", err)
}

// GetOrganizationByName returns the organization with the name, its
// connections by name; ErrNotFound.
func (db *DB) GetOrganizationByName(ctx context.Context, name string) (store.Organization, error) {
	o, err := db.getOrganization(ctx, qGetOrganizationByName, name)
	return o, fail("get organization by name", err)
}

// ListOrganizations returns every organization, by name.
func (db *DB) ListOrganizations(ctx context.Context) ([]store.Organization, error) {
	orgs, err := db.listOrganizations(ctx, qListOrganizations)
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
	return fail("update organization", changed(db.exec(ctx, qUpdateOrganization, append(orgFields(o), o.ID)...)))
}

// DeleteOrganization removes the organization with its connections, members
// and invitations; ErrNotFound.
func (db *DB) DeleteOrganization(ctx context.Context, id string) error {
	return fail("delete organization", changed(db.exec(ctx, qDeleteOrganization, id)))
}

// SetOrgConnection enables the connection for the organization, with its
// membership setting, or disables it, with one statement on its own row.
// Enabling again replaces the setting; disabling a connection that is not
// enabled succeeds; the connection name is not checked. ErrNotFound for an
// unknown organization.
func (db *DB) SetOrgConnection(ctx context.Context, orgID string, c store.OrgConnection, enabled bool) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := orgExists(ctx, t, orgID); err != nil {
			return err
		}
		if enabled {
			_, err := t.exec(ctx, qEnableOrgConnection, orgID, c.Name, c.AssignMembership)
			return err
		}
		_, err := t.exec(ctx, qDisableOrgConnection, orgID, c.Name)
		return err
	})
	return fail("set organization connection", err)
}

// orgExists returns ErrNotFound unless the organization exists.
func orgExists(ctx context.Context, t tx, orgID string) error {
	var ok bool
	if err := t.queryRow(ctx, qOrganizationExists, orgID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("organization %q: %w", orgID, store.ErrNotFound)
	}
	return nil
}

// addMember makes the user a member of the organization, if it is not one
// already. The checks name the missing record; the foreign keys of
// org_members would refuse it too, but only as a constraint error.
func addMember(ctx context.Context, t tx, orgID, userID string) error {
	if err := orgExists(ctx, t, orgID); err != nil {
		return err
	}
	var ok bool
	if err := t.queryRow(ctx, qUserExists, userID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
	}
	_, err := t.exec(ctx, qAddMember, orgID, userID)
	return err
}

// AddMember makes the user a member of the organization; being one already
// is no error. ErrNotFound for an unknown organization or user.
func (db *DB) AddMember(ctx context.Context, orgID, userID string) error {
	err := db.inTx(ctx, func(t tx) error {
		return addMember(ctx, t, orgID, userID)
	})
	return fail("add member", err)
}

// RemoveMember ends the membership; ErrNotFound when there is none.
func (db *DB) RemoveMember(ctx context.Context, orgID, userID string) error {
	return fail("remove member", changed(db.exec(ctx, qRemoveMember, orgID, userID)))
}

// ListMembers returns the IDs of the organization's members in byte order;
// none for an unknown organization.
func (db *DB) ListMembers(ctx context.Context, orgID string) ([]string, error) {
	rows, err := db.query(ctx, qListMembers, orgID)
	if err != nil {
		return nil, fail("list members", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fail("list members", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list members", err)
	}
	return ids, nil
}

// IsMember reports whether the user is a member of the organization; false
// for an unknown organization or user.
func (db *DB) IsMember(ctx context.Context, orgID, userID string) (bool, error) {
	var ok bool
	if err := db.queryRow(ctx, qIsMember, orgID, userID).Scan(&ok); err != nil {
		return false, fail("is member", err)
	}
	return ok, nil
}

// UserOrganizations returns the organizations the user is a member of, by
// name; none for an unknown user.
func (db *DB) UserOrganizations(ctx context.Context, userID string) ([]store.Organization, error) {
	orgs, err := db.listOrganizations(ctx, qUserOrganizations, userID)
	if err != nil {
		return nil, fail("user organizations", err)
	}
	return orgs, nil
}

func scanInvitation(sc scanner) (store.Invitation, error) {
	var inv store.Invitation
	err := sc.Scan(&inv.ID, &inv.TicketHash, &inv.OrganizationID, &inv.Email, &inv.ClientID,
		&inv.Connection, timeCol{&inv.CreatedAt}, timeCol{&inv.ExpiresAt}, timePtrCol{&inv.UsedAt},
		&inv.UsedBy, &inv.Revoked, &inv.Inviter)
	return inv, err
}

// CreateInvitation stores inv; ErrConflict when its ID or ticket hash is
// taken, ErrNotFound when its organization is unknown. The client ID is not
// checked.
func (db *DB) CreateInvitation(ctx context.Context, inv store.Invitation) error {
	err := db.inTx(ctx, func(t tx) error {
		if err := orgExists(ctx, t, inv.OrganizationID); err != nil {
			return err
		}
		_, err := t.exec(ctx, qInsertInvitation, inv.ID, inv.TicketHash, inv.OrganizationID,
			inv.Email, inv.ClientID, inv.Connection, millis(inv.CreatedAt), millis(inv.ExpiresAt),
			nullMillisPtr(inv.UsedAt), inv.UsedBy, inv.Revoked, inv.Inviter)
		return err
	})
	return fail("create invitation", err)
}

// GetInvitation returns the invitation with the ID, whatever its state;
// ErrNotFound.
func (db *DB) GetInvitation(ctx context.Context, id string) (store.Invitation, error) {
	inv, err := scanInvitation(db.queryRow(ctx, qGetInvitation, id))
	if err != nil {
		return store.Invitation{}, fail("get invitation", err)
	}
	return inv, nil
}

// GetInvitationByTicket returns the invitation with the ticket hash,
// whatever its state; ErrNotFound.
func (db *DB) GetInvitationByTicket(ctx context.Context, ticketHash string) (store.Invitation, error) {
	inv, err := scanInvitation(db.queryRow(ctx, qGetInvitationByTicket, ticketHash))
	if err != nil {
		return store.Invitation{}, fail("get invitation by ticket", err)
	}
	return inv, nil
}

// ListInvitations returns the organization's invitations in every state, by
// CreatedAt and then ID; none for an unknown organization.
func (db *DB) ListInvitations(ctx context.Context, orgID string) ([]store.Invitation, error) {
	rows, err := db.query(ctx, qListInvitations, orgID)
	if err != nil {
		return nil, fail("list invitations", err)
	}
	defer rows.Close()
	var invs []store.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, fail("list invitations", err)
		}
		invs = append(invs, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("list invitations", err)
	}
	return invs, nil
}

// RevokeInvitation marks the invitation revoked, used or not; revoking
// twice is no error. ErrNotFound.
func (db *DB) RevokeInvitation(ctx context.Context, id string) error {
	return fail("revoke invitation", changed(db.exec(ctx, qRevokeInvitation, id)))
}

// AcceptInvitation checks the invitation with the ticket hash, marks it used
// by userID at now and makes userID a member of its organization, in one
// transaction, and returns the invitation as it is then. The checks run in
// the order of checkInvitation, so an invitation that fails several reports
// the first. An unknown user is ErrNotFound too. A refused invitation is
// left as it was.
func (db *DB) AcceptInvitation(ctx context.Context, ticketHash, orgID, email, userID string, now time.Time) (store.Invitation, error) {
	var inv store.Invitation
	err := db.inTx(ctx, func(t tx) error {
		var err error
		inv, err = scanInvitation(t.queryRow(ctx, qGetInvitationByTicket, ticketHash))
		if err != nil {
			return err
		}
		if err := checkInvitation(inv, orgID, email, now); err != nil {
			return err
		}
		usedAt := time.UnixMilli(millis(now)).UTC() // as it reads back
		if _, err := t.exec(ctx, qUseInvitation, millis(usedAt), userID, inv.ID); err != nil {
			return err
		}
		inv.UsedAt, inv.UsedBy = &usedAt, userID
		return addMember(ctx, t, inv.OrganizationID, userID)
	})
	if err != nil {
		return store.Invitation{}, fail("accept invitation", err)
	}
	return inv, nil
}

// checkInvitation decides whether inv may be accepted for orgID and email at
// now. The order is fixed so that every backend reports the same error:
// ErrRevoked, ErrAlreadyUsed, ErrExpired (now at or after ExpiresAt, to the
// millisecond), then ErrMismatch for another organization or an email that
// differs once both are lower-cased.
func checkInvitation(inv store.Invitation, orgID, email string, now time.Time) error {
	switch {
	case inv.Revoked:
		return store.ErrRevoked
	case inv.UsedAt != nil:
		return store.ErrAlreadyUsed
	case millis(now) >= millis(inv.ExpiresAt):
		return store.ErrExpired
	case inv.OrganizationID != orgID:
		return fmt.Errorf("invitation is for another organization: %w", store.ErrMismatch)
	case strings.ToLower(inv.Email) != strings.ToLower(email):
		return fmt.Errorf("invitation is for another email: %w", store.ErrMismatch)
	}
	return nil
}

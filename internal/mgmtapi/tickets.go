package mgmtapi

import (
	"net/http"
	"time"

	"gatehouse/internal/mgmt"
)

func (a *API) ticketRoutes() {
	a.add("POST", "/tickets/password-change", "Create a password-change ticket", a.passwordChangeTicket, "create:user_tickets").accepts(passwordChangeBody{}).returns(201, ticketJSON{})
	a.add("POST", "/tickets/email-verification", "Create an email-verification ticket", a.emailVerificationTicket, "create:user_tickets").accepts(emailVerificationBody{}).returns(201, ticketJSON{})
}

// ticketJSON is a ticket: the one-time link to the hosted page.
type ticketJSON struct {
	Ticket string `json:"ticket"`
}

// passwordChangeBody asks for a password-change link: for user_id, or
// for email in the database connection connection_id. ttl_sec is the
// link's life in seconds, 30 minutes when 0 or left out.
type passwordChangeBody struct {
	UserID                 string  `json:"user_id"`
	Email                  string  `json:"email"`
	ConnectionID           string  `json:"connection_id"`
	ClientID               string  `json:"client_id"`
	OrganizationID         *string `json:"organization_id"`
	ResultURL              string  `json:"result_url"`
	TTLSec                 *int    `json:"ttl_sec"`
	MarkEmailAsVerified    bool    `json:"mark_email_as_verified"`
	IncludeEmailInRedirect bool    `json:"includeEmailInRedirect"`
}

// emailVerificationBody asks for an email-verification link; ttl_sec is
// 24 hours when 0 or left out.
type emailVerificationBody struct {
	UserID                 string  `json:"user_id"`
	ClientID               string  `json:"client_id"`
	OrganizationID         *string `json:"organization_id"`
	ResultURL              string  `json:"result_url"`
	TTLSec                 *int    `json:"ttl_sec"`
	IncludeEmailInRedirect bool    `json:"includeEmailInRedirect"`
}

// ticketTTL reads ttl_sec: 0 or none asks for the default; the service
// refuses values out of bounds, a negative one included.
func ticketTTL(v *int) time.Duration {
	switch {
	case v == nil:
		return 0
	case *v > maxTTLSec:
		// Past the bound, without overflowing the multiplication.
		return (maxTTLSec + 1) * time.Second
	}
	return time.Duration(*v) * time.Second
}

// noOrganization refuses organization_id: a ticket's page belongs to no
// organization here.
func noOrganization(v *string) error {
	if v != nil && *v != "" {
		return badRequest("organization_id is not supported on tickets: the hosted page of a ticket belongs to no organization")
	}
	return nil
}

func (a *API) passwordChangeTicket(w http.ResponseWriter, r *http.Request) error {
	var in passwordChangeBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := noOrganization(in.OrganizationID); err != nil {
		return err
	}
	link, err := a.svc.CreatePasswordChangeTicket(r.Context(), mgmt.PasswordChangeTicket{
		UserID: in.UserID, Email: in.Email, Connection: in.ConnectionID, ClientID: in.ClientID,
		ResultURL: in.ResultURL, IncludeEmail: in.IncludeEmailInRedirect, TTL: ticketTTL(in.TTLSec),
		MarkEmailVerified: in.MarkEmailAsVerified,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ticketJSON{Ticket: link})
	return nil
}

func (a *API) emailVerificationTicket(w http.ResponseWriter, r *http.Request) error {
	var in emailVerificationBody
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := noOrganization(in.OrganizationID); err != nil {
		return err
	}
	link, err := a.svc.CreateEmailVerificationTicket(r.Context(), mgmt.EmailVerificationTicket{
		UserID: in.UserID, ClientID: in.ClientID, ResultURL: in.ResultURL,
		IncludeEmail: in.IncludeEmailInRedirect, TTL: ticketTTL(in.TTLSec),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ticketJSON{Ticket: link})
	return nil
}

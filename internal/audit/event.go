package audit

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/internal/store"
)

// Event types: the hosted service's log event type codes, so that tools
// written for its logs read Gatehouse's.
const (
	TypeSuccessLogin             = "s"
	TypeFailedLogin              = "f"
	TypeFailedLoginPassword      = "fp" // a known user, a wrong password
	TypeFailedLoginUsername      = "fu" // no such user
	TypeSuccessSignup            = "ss"
	TypeFailedSignup             = "fs"
	TypeSuccessLogout            = "slo"
	TypeFailedLogout             = "flo"
	TypeSuccessCodeExchange      = "seacft" // authorization code for tokens
	TypeFailedCodeExchange       = "feacft"
	TypeSuccessClientCredentials = "seccft" // client credentials for an access token
	TypeFailedClientCredentials  = "feccft"
	TypeSuccessRefreshExchange   = "sertft" // refresh token for tokens
	TypeFailedRefreshExchange    = "fertft"
	TypeSuccessChangePassword    = "scp"
	TypeFailedChangePassword     = "fcp"
	TypeSuccessPasswordRequest   = "scpr" // a reset link asked for
	TypeFailedPasswordRequest    = "fcpr"
	TypeSuccessVerification      = "sv" // an email verification link used
	TypeFailedVerification       = "fv"
	TypeSuccessVerificationEmail = "svr" // a verification email asked for
	TypeFailedVerificationEmail  = "fvr"
	TypeSuccessAPIOperation      = "sapi" // a management change
	TypeFailedAPIOperation       = "fapi"
	TypeBlockedAccount           = "limit_wc" // too many failed attempts on one account
	TypeBlockedIP                = "limit_mu" // too many attempts from one address
	TypeMFASuccess               = "gd_auth_succeed"
	TypeMFAFailed                = "gd_auth_failed"
	TypeMFARecoverySuccess       = "gd_recovery_succeed"
	TypeMFARecoveryFailed        = "gd_recovery_failed"
	TypeMFAEnrolled              = "gd_enrollment_complete"
	TypeMFAUnenrolled            = "gd_unenroll"
	TypeMFATooManyFailures       = "gd_otp_rate_limit_exceed"
	TypeMFARecoveryTooMany       = "gd_recovery_rate_limit_exceed"
)

// typeNames are the event names the hosted service shows for each code.
var typeNames = map[string]string{
	TypeSuccessLogin:             "Success Login",
	TypeFailedLogin:              "Failed Login",
	TypeFailedLoginPassword:      "Failed Login (Incorrect Password)",
	TypeFailedLoginUsername:      "Failed Login (Invalid Email/Username)",
	TypeSuccessSignup:            "Success Signup",
	TypeFailedSignup:             "Failed Signup",
	TypeSuccessLogout:            "Success Logout",
	TypeFailedLogout:             "Failed Logout",
	TypeSuccessCodeExchange:      "Success Exchange (Authorization Code for Access Token)",
	TypeFailedCodeExchange:       "Failed Exchange (Authorization Code for Access Token)",
	TypeSuccessClientCredentials: "Success Exchange (Client Credentials for Access Token)",
	TypeFailedClientCredentials:  "Failed Exchange (Client Credentials for Access Token)",
	TypeSuccessRefreshExchange:   "Success Exchange (Refresh Token for Access Token)",
	TypeFailedRefreshExchange:    "Failed Exchange (Refresh Token for Access Token)",
	TypeSuccessChangePassword:    "Success Change Password",
	TypeFailedChangePassword:     "Failed Change Password",
	TypeSuccessPasswordRequest:   "Success Change Password Request",
	TypeFailedPasswordRequest:    "Failed Change Password Request",
	TypeSuccessVerification:      "Success Verification Email",
	TypeFailedVerification:       "Failed Verification Email",
	TypeSuccessVerificationEmail: "Success Verification Email Request",
	TypeFailedVerificationEmail:  "Failed Verification Email Request",
	TypeSuccessAPIOperation:      "Success API Operation",
	TypeFailedAPIOperation:       "Failed API Operation",
	TypeBlockedAccount:           "Blocked Account",
	TypeBlockedIP:                "Blocked IP Address",
	TypeMFASuccess:               "Second factor authentication success",
	TypeMFAFailed:                "Second factor authentication failed",
	TypeMFARecoverySuccess:       "Recovery success",
	TypeMFARecoveryFailed:        "Recovery failed",
	TypeMFAEnrolled:              "Second factor enrollment complete",
	TypeMFAUnenrolled:            "Second factor removed",
	TypeMFATooManyFailures:       "Too many second factor failures",
	TypeMFARecoveryTooMany:       "Too many recovery code failures",
}

// TypeName returns the name of an event type code, or the code itself for
// one Gatehouse does not write.
func TypeName(code string) string {
	if n, ok := typeNames[code]; ok {
		return n
	}
	return code
}

// Event is one audit-log record, in the hosted service's log shape (its
// JSON is the management API's and the webhook's). Fields that do not
// apply are left empty.
type Event struct {
	LogID            string         `json:"log_id"`
	Date             time.Time      `json:"date"`
	Type             string         `json:"type"`
	Description      string         `json:"description,omitempty"`
	IP               string         `json:"ip,omitempty"`
	UserAgent        string         `json:"user_agent,omitempty"`
	ClientID         string         `json:"client_id,omitempty"`
	ClientName       string         `json:"client_name,omitempty"`
	UserID           string         `json:"user_id,omitempty"`
	UserName         string         `json:"user_name,omitempty"`
	Connection       string         `json:"connection,omitempty"`
	ConnectionID     string         `json:"connection_id,omitempty"`
	Strategy         string         `json:"strategy,omitempty"`
	OrganizationID   string         `json:"organization_id,omitempty"`
	OrganizationName string         `json:"organization_name,omitempty"`
	Audience         string         `json:"audience,omitempty"`
	Scope            string         `json:"scope,omitempty"`
	Details          map[string]any `json:"details,omitempty"`
}

// MarshalJSON writes the date as the hosted service does: UTC, to the
// millisecond ("2026-01-02T15:04:05.000Z").
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		Date string `json:"date"`
	}{plain(e), e.Date.UTC().Format(DateFormat)})
}

// DateFormat is the layout of dates in events' JSON.
const DateFormat = "2006-01-02T15:04:05.000Z07:00"

// Recorder records audit events. A request handler calls Record and goes
// on: it never waits for the event to be stored.
type Recorder interface {
	Record(e Event)
}

// FromRequest sets the event's IP and user agent from r. The IP is the
// client's as the server's proxy settings resolved it into RemoteAddr.
func (e Event) FromRequest(r *http.Request) Event {
	if r == nil {
		return e
	}
	e.IP = ClientIP(r)
	e.UserAgent = r.UserAgent()
	return e
}

// ClientIP is the address of r's client, without the port.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// NewID returns a log ID for an event at t: the Unix time in microseconds
// as 16 digits, so that IDs sort by time, then 16 random hex digits, so
// that replicas never pick the same ID.
func NewID(t time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016d%s", max(t.UnixMicro(), 0), hex.EncodeToString(b[:]))
}

var idPattern = regexp.MustCompile(`^[0-9]{16}[0-9a-f]{16}$`)

// ValidID reports whether id has the form of a log ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// FromStore converts a stored event.
func FromStore(e store.LogEvent) Event {
	return Event{
		LogID: e.ID, Date: e.Date, Type: e.Type, Description: e.Description, IP: e.IP, UserAgent: e.UserAgent,
		ClientID: e.ClientID, ClientName: e.ClientName, UserID: e.UserID, UserName: e.UserName,
		Connection: e.Connection, ConnectionID: e.ConnectionID, Strategy: e.Strategy,
		OrganizationID: e.OrganizationID, OrganizationName: e.OrganizationName,
		Audience: e.Audience, Scope: e.Scope, Details: e.Details,
	}
}

// toStore converts an event to store.
func (e Event) toStore() store.LogEvent {
	return store.LogEvent{
		ID: e.LogID, Date: e.Date, Type: e.Type, Description: e.Description, IP: e.IP, UserAgent: e.UserAgent,
		ClientID: e.ClientID, ClientName: e.ClientName, UserID: e.UserID, UserName: e.UserName,
		Connection: e.Connection, ConnectionID: e.ConnectionID, Strategy: e.Strategy,
		OrganizationID: e.OrganizationID, OrganizationName: e.OrganizationName,
		Audience: e.Audience, Scope: e.Scope, Details: e.Details,
	}
}

// Limits of an event's fields, so that what a client sends (a user agent,
// a typed user name) cannot make an event large.
const (
	maxField       = 256
	maxText        = 512 // description, user agent
	maxDetailBytes = 8 << 10
	maxDetailDepth = 6
	redacted       = "[redacted]"
)

// sanitize bounds every field and redacts secret-looking details. It is
// the writer's last line of defence; callers put no secrets in events.
func sanitize(e Event) Event {
	for _, f := range []*string{&e.Type, &e.IP, &e.ClientID, &e.ClientName, &e.UserID, &e.UserName,
		&e.Connection, &e.ConnectionID, &e.Strategy, &e.OrganizationID, &e.OrganizationName, &e.Audience, &e.Scope} {
		*f = truncate(*f, maxField)
	}
	e.Description = truncate(e.Description, maxText)
	e.UserAgent = truncate(e.UserAgent, maxText)
	if len(e.Details) > 0 {
		e.Details = scrubMap(e.Details, 0)
		if b, err := json.Marshal(e.Details); err != nil || len(b) > maxDetailBytes {
			e.Details = map[string]any{"truncated": true}
		}
	}
	return e
}

// truncate cuts s to at most n bytes on a rune boundary, and replaces
// invalid UTF-8 and control characters, which have no place in a log line.
func truncate(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// secretKey reports whether a detail's key names a credential. Exact
// names are the protocol parameters; the words catch the rest
// (client_secret, new_password, refresh_token, …).
func secretKey(k string) bool {
	k = strings.ToLower(k)
	switch k {
	case "code", "ticket", "link", "otp", "state", "nonce", "cookie", "authorization", "assertion", "client_assertion":
		return true
	}
	for _, w := range []string{"password", "secret", "token", "verifier", "recovery", "credential", "private"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func scrubMap(m map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if secretKey(k) {
			out[k] = redacted
			continue
		}
		out[k] = scrubValue(v, depth+1)
	}
	return out
}

func scrubValue(v any, depth int) any {
	if depth > maxDetailDepth {
		return "[too deep]"
	}
	switch x := v.(type) {
	case map[string]any:
		return scrubMap(x, depth)
	case []any:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = scrubValue(y, depth+1)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, y := range x {
			out[i] = truncate(y, maxText)
		}
		return out
	case string:
		return truncate(x, maxText)
	}
	return v
}

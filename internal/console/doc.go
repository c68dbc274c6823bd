// Package console serves the admin console at /admin: server-rendered pages
// for operators who hold an admin role, signed in through the server's own
// hosted login, each of whose actions is a call of the management API
// (/api/v2) made in-process with a short-lived token minted for the admin.
package console

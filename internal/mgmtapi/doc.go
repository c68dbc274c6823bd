// Package mgmtapi serves the management API, /api/v2: the hosted
// service's Management API v2 shapes (paths, JSON bodies, errors,
// pagination) over the rules of package mgmt.
//
// Every route is declared once in a table (Routes) with the scope it
// needs; the table drives the router, the authorization check and the
// OpenAPI document's test. Callers authenticate with a JWT access token
// from client_credentials whose audience is store.ManagementAudience.
// Handlers are thin: they decode, call mgmt, and encode; a *mgmt.Error is
// written as {"statusCode", "error", "message", "errorCode"}.
package mgmtapi

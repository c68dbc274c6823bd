// Package authflow owns the hand-off between the protocol endpoints
// (internal/oauth) and the hosted pages (internal/login): the paths of the
// pages a pending authorization request visits, and the binding of that
// request to the browser that started it.
package authflow

// Package session owns the browser's single-sign-on session: the cookie that
// carries an opaque id and the stored row it points to.
package session

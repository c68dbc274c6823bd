// Package database is the username/password connection: argon2id password
// hashes and users kept in Gatehouse's own store.
package database

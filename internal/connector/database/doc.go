// Package database is the username/password connection: argon2id password
// hashes and users kept in Gatehouse's own store, and the one-time email
// links that reset a password or verify an email address.
package database

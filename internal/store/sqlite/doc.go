// Package sqlite owns the embedded default store.Store: the records of one
// Gatehouse deployment in a single SQLite file, with its schema migrations.
package sqlite

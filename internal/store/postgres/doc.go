// Package postgres owns the scale-out store.Store: the records of a
// Gatehouse deployment in one PostgreSQL database shared by any number of
// replicas, with its schema migrations.
package postgres

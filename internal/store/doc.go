// Package store owns Gatehouse's domain records, the Store interface every
// storage backend implements, and the sentinel errors they return.
package store

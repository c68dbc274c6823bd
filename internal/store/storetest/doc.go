// Package storetest owns the conformance suite that every store.Store backend
// runs, so all backends behave the same to their callers.
package storetest

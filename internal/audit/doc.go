// Package audit owns Gatehouse's audit log: the events (logins, sign-ups,
// token exchanges, management changes) typed with the hosted service's
// event codes, the writer that stores them, the query syntax of the
// management API's log search, and the stream that delivers them to a
// webhook.
//
// # Buffered, not synchronous
//
// A request records an event with Writer.Record, which never waits for the
// database: it puts the event in a bounded buffer and returns. One
// goroutine per process writes the buffer in batches (a transaction per
// batch, not per event), retries a failed batch with backoff, and drains
// everything on Close, which the server calls on shutdown.
//
// Writing synchronously would make every login and token exchange pay for
// one more write transaction, and would make them fail, or wait for the
// statement timeout, whenever the database is slow — exactly when an
// attacker hammers the login page. It would also make the time of a failed
// login depend on what was recorded about it, where the recording must not
// tell an unknown email from a wrong password. Buffered, recording costs a
// channel send, the same for every outcome.
//
// The price is that events still in the buffer are lost if the process
// dies without shutting down, and that when the buffer is full (the
// database has been down longer than the buffer lasts) new events are
// dropped rather than blocking requests. Both are reported: dropped events
// are counted (Writer.Dropped) and logged at error level, so a gap in the
// audit log is itself visible in the process log.
//
// # What is never recorded
//
// Passwords, authorization codes, tokens, client secrets, one-time links
// and tickets never reach an event: callers put identifiers in events, not
// credentials, and the writer redacts any detail whose key names a secret
// and bounds the length of every field, as a second line of defence.
//
// # Following the log
//
// Log IDs begin with the event's time, so that they sort by date across
// replicas. Readers that follow the log (the webhook stream, logs tail,
// the API's from/take checkpoints) go by the store's commit order instead
// (store.LogEvent.Seq), so that an event flushed late by a slow replica is
// never skipped. The webhook stream's cursor lives in the store, leased to
// one replica at a time and advanced by compare-and-set after each
// delivered batch: delivery is at least once, in order, across restarts.
package audit

// Package loadtest owns the load driver: simulated browsers that take an
// OpenID provider through the authorization code flow concurrently, back
// ends that get client_credentials tokens and call its management API, and
// the report of rates, latencies, errors and server cost that it measures.
package loadtest

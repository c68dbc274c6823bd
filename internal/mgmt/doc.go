// Package mgmt owns the rules of managing Gatehouse — applications, APIs,
// connections, organizations and users: validation, defaults, generated
// secrets and cascades — so that the command line and the management API,
// thin adapters over it, always agree.
package mgmt

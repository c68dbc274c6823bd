// Package connector defines what Gatehouse asks of a source of identities;
// each strategy lives in its own subpackage.
package connector

// Package testca makes throwaway certificate authorities and server
// certificates for tests that serve or call https on loopback.
package testca

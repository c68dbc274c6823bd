// Package server assembles Gatehouse's http.Handler: the mux, the
// cross-cutting middleware, health endpoints, each domain's routes, the
// background cleaner and graceful shutdown.
package server

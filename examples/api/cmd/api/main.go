// Command api serves the example protected API, which accepts JWT access
// tokens from an OpenID Connect provider such as Gatehouse.
//
//	api --issuer http://localhost:8080 --audience https://api.example.com
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gatehouse/examples/api"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	issuer := flag.String("issuer", "http://localhost:8080", "the token issuer's URL, exactly as in the tokens' iss claim")
	audience := flag.String("audience", "https://api.example.com", "this API's identifier, which tokens must have in aud")
	addr := flag.String("addr", "127.0.0.1:4000", "address to listen on")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	handler, err := api.New(ctx, api.Config{Issuer: *issuer, Audience: *audience, Logger: logger})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              *addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("api listening", "addr", *addr, "issuer", *issuer, "audience", *audience)

	select {
	case err := <-errc:
		return fmt.Errorf("api: serve on %s: %w", *addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("api: shut down: %w", err)
	}
	return nil
}

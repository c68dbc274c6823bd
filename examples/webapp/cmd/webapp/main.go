// Command webapp serves the example regular web application against an
// OpenID Connect provider such as Gatehouse.
//
//	WEBAPP_CLIENT_SECRET=… webapp --issuer http://localhost:8080 --client-id my-app
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gatehouse/examples/webapp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	issuer := flag.String("issuer", "http://localhost:8080", "the provider's issuer URL")
	clientID := flag.String("client-id", "", "the client id registered at the provider")
	clientSecret := flag.String("client-secret", "", "the client secret (default $WEBAPP_CLIENT_SECRET)")
	audience := flag.String("audience", "", "optional API audience to request")
	apiURL := flag.String("api-url", "", "optional API endpoint that /call-api calls with the access token")
	scopes := flag.String("scope", "", "space-separated scopes to request (default: openid profile email offline_access)")
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	baseURL := flag.String("base-url", "http://localhost:3000", "the URL this app is reached at; the callback is <base-url>/callback")
	flag.Parse()
	if *clientSecret == "" {
		*clientSecret = os.Getenv("WEBAPP_CLIENT_SECRET")
	}
	if *clientID == "" {
		return errors.New("webapp: --client-id is required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, err := webapp.New(ctx, webapp.Config{
		Issuer:       *issuer,
		ClientID:     *clientID,
		ClientSecret: *clientSecret,
		BaseURL:      *baseURL,
		Audience:     *audience,
		APIURL:       *apiURL,
		Scopes:       strings.Fields(*scopes),
		Logger:       logger,
	})
	if err != nil {
		return err
	}

	srv := &http.Server{
		Addr:              *addr,
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("webapp listening", "addr", *addr, "base_url", *baseURL, "issuer", *issuer)

	select {
	case err := <-errc:
		return fmt.Errorf("webapp: serve on %s: %w", *addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("webapp: shut down: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"

	"golang.org/x/crypto/acme/autocert"

	"gatehouse/internal/config"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
)

func cmdServe(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "serve", "serve [--addr ADDR] [--issuer URL] [--tls-cert FILE --tls-key FILE | --acme-domain DOMAIN ...] [--metrics-addr ADDR] [--db DB] [--config FILE]")
	addr := cmd.fs.String("addr", "127.0.0.1:8080", "listen `address` (env GATEHOUSE_ADDR)")
	issuer := cmd.fs.String("issuer", "http://localhost:8080", "public `URL` of the server, as in tokens (env GATEHOUSE_ISSUER)")
	logFormat := cmd.fs.String("log-format", "text", "log format: text or json (env GATEHOUSE_LOG_FORMAT)")
	logLevel := cmd.fs.String("log-level", "info", "log level: debug, info, warn, error (env GATEHOUSE_LOG_LEVEL)")
	tlsCert := cmd.fs.String("tls-cert", "", "serve https with the PEM certificate (and chain) in `FILE`, re-read when it changes (env GATEHOUSE_TLS_CERT_FILE)")
	tlsKey := cmd.fs.String("tls-key", "", "PEM private key `FILE` of --tls-cert (env GATEHOUSE_TLS_KEY_FILE)")
	var acmeDomains multiFlag
	cmd.fs.Var(&acmeDomains, "acme-domain", "obtain the https certificate for `DOMAIN` from an ACME CA (repeatable or comma-separated; must include the issuer's host; env GATEHOUSE_ACME_DOMAINS)")
	acmeEmail := cmd.fs.String("acme-email", "", "contact `address` given to the ACME CA for expiry notices (env GATEHOUSE_ACME_EMAIL)")
	acmeDir := cmd.fs.String("acme-directory", "", "ACME directory `URL` (default Let's Encrypt production; env GATEHOUSE_ACME_DIRECTORY)")
	acmeHTTP := cmd.fs.String("acme-http-addr", "", "also answer HTTP-01 challenges, and redirect to https, on this plain-http listen `address`, port 80 as the CA sees it (env GATEHOUSE_ACME_HTTP_ADDR)")
	acmeCache := cmd.fs.String("acme-cache-dir", "", "keep the ACME account key and certificates in this `directory` instead of the database (env GATEHOUSE_ACME_CACHE_DIR)")
	metricsAddr := cmd.fs.String("metrics-addr", "", "serve /metrics on this listen `address` instead of the public one (env GATEHOUSE_METRICS_ADDR)")
	if err := noArgs(cmd.fs, args); err != nil {
		return err
	}
	cfg, err := cmd.common.load(e, cmd.fs, func(cfg *config.Config) {
		cmd.fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "addr":
				cfg.Addr = *addr
			case "issuer":
				cfg.Issuer = *issuer
			case "log-format":
				cfg.Log.Format = *logFormat
			case "log-level":
				cfg.Log.Level = *logLevel
			case "tls-cert":
				cfg.TLS.CertFile = *tlsCert
			case "tls-key":
				cfg.TLS.KeyFile = *tlsKey
			case "acme-domain":
				cfg.ACME.Domains = nil
				for _, d := range acmeDomains {
					cfg.ACME.Domains = append(cfg.ACME.Domains, config.SplitList(d)...)
				}
			case "acme-email":
				cfg.ACME.Email = *acmeEmail
			case "acme-directory":
				cfg.ACME.Directory = *acmeDir
			case "acme-http-addr":
				cfg.ACME.HTTPAddr = *acmeHTTP
			case "acme-cache-dir":
				cfg.ACME.CacheDir = *acmeCache
			case "metrics-addr":
				cfg.MetricsAddr = *metricsAddr
			}
		})
	})
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg)
	return serve(ctx, cfg, log, nil)
}

// serve opens the store and keys, listens and serves until ctx ends.
// ready, when set, receives the listener's address once accepting.
//
// Everything that can be checked without the database is checked first,
// and the port is taken before the database, its directory or a master key
// is created: a mistake on the first start leaves nothing behind.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string), opts ...server.Option) error {
	conns, err := configConnections(cfg, os.LookupEnv)
	if err != nil {
		return err
	}
	if err := checkMasterKey(cfg); err != nil {
		return err
	}
	if cfg.TLS.Enabled() {
		host := ""
		if u, err := url.Parse(cfg.Issuer); err == nil {
			host = u.Hostname()
		}
		cert, err := server.LoadCertificate(cfg.TLS.CertFile, cfg.TLS.KeyFile, host, log)
		if err != nil {
			return err
		}
		opts = append(opts, server.WithTLS(cert))
	}
	// Side listeners are taken with the public one, before the database,
	// so a port in use leaves nothing behind; each is closed on every
	// return (Serve closes them too, which is harmless).
	var side []net.Listener
	defer func() {
		for _, l := range side {
			_ = l.Close()
		}
	}()
	listenSide := func(what, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen (%s): %w", what, err)
		}
		side = append(side, l)
		return l, nil
	}
	if cfg.MetricsAddr != "" {
		l, err := listenSide("metrics", cfg.MetricsAddr)
		if err != nil {
			return err
		}
		opts = append(opts, server.WithMetricsListener(l))
	}
	var acmeManager *autocert.Manager
	if cfg.ACME.Enabled() {
		var httpLn net.Listener
		if cfg.ACME.HTTPAddr != "" {
			if httpLn, err = listenSide("acme http-01", cfg.ACME.HTTPAddr); err != nil {
				return err
			}
		}
		acmeManager = server.NewACME(cfg.ACME, log)
		opts = append(opts, server.WithACME(acmeManager, httpLn))
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	err = withStore(ctx, cfg, func(st store.Store) error {
		keys, err := openKeys(ctx, cfg, st, log)
		if err != nil {
			return err
		}
		sealer, err := openSealer(cfg, log)
		if err != nil {
			return err
		}
		if err := applyConfigConnections(ctx, st, sealer, conns); err != nil {
			return err
		}
		if acmeManager != nil && acmeManager.Cache == nil {
			acmeManager.Cache = server.NewCertCache(st, sealer)
		}
		srv, err := server.New(cfg, st, keys, log, append([]server.Option{server.WithConnectors(connectorOpener(sealer))}, opts...)...)
		if err != nil {
			return err
		}
		log.Info("gatehouse listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "tls", cfg.TLS.Enabled() || cfg.ACME.Enabled(), "metrics_addr", cfg.MetricsAddr)
		if ready != nil {
			ready(ln.Addr().String())
		}
		return srv.Serve(ctx, ln)
	})
	// Serve closes the listener; an error before it leaves it open.
	_ = ln.Close()
	return err
}

func cmdMigrate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "migrate", "migrate [--db DB] [--config FILE]")
	if err := noArgs(cmd.fs, args); err != nil {
		return err
	}
	return cmd.open(ctx, func(config.Config, store.Store) error {
		fmt.Fprintln(e.stdout, "database is up to date")
		return nil
	})
}

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"

	"gatehouse/internal/config"
	"gatehouse/internal/server"
	"gatehouse/internal/store"
)

func cmdServe(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "serve", "serve [--addr ADDR] [--issuer URL] [--tls-cert FILE --tls-key FILE] [--db DB] [--config FILE]")
	addr := cmd.fs.String("addr", "127.0.0.1:8080", "listen `address` (env GATEHOUSE_ADDR)")
	issuer := cmd.fs.String("issuer", "http://localhost:8080", "public `URL` of the server, as in tokens (env GATEHOUSE_ISSUER)")
	logFormat := cmd.fs.String("log-format", "text", "log format: text or json (env GATEHOUSE_LOG_FORMAT)")
	logLevel := cmd.fs.String("log-level", "info", "log level: debug, info, warn, error (env GATEHOUSE_LOG_LEVEL)")
	tlsCert := cmd.fs.String("tls-cert", "", "serve https with the PEM certificate (and chain) in `FILE`, re-read when it changes (env GATEHOUSE_TLS_CERT_FILE)")
	tlsKey := cmd.fs.String("tls-key", "", "PEM private key `FILE` of --tls-cert (env GATEHOUSE_TLS_KEY_FILE)")
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
		srv, err := server.New(cfg, st, keys, log, append([]server.Option{server.WithConnectors(connectorOpener(sealer))}, opts...)...)
		if err != nil {
			return err
		}
		log.Info("gatehouse listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "tls", cfg.TLS.Enabled())
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

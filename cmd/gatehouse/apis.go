package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/oauth"
	"gatehouse/internal/store"
)

// apiFlags are the settings of an API shared by create and update.
type apiFlags struct {
	name          string
	scopes        multiFlag
	offline       bool
	skipConsent   bool
	alg           string
	tokenLifetime durationFlag
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "API name")
	fs.Var(&f.scopes, "scope", "scope `NAME[:description]` (repeatable; on update replaces the list)")
	fs.BoolVar(&f.offline, "allow-offline-access", false, "allow refresh tokens for this API")
	fs.BoolVar(&f.skipConsent, "skip-consent-first-party", false, "first-party applications skip consent for this API")
	fs.StringVar(&f.alg, "signing-alg", "RS256", "access token signing algorithm: RS256, ES256 or EdDSA")
	fs.Var(&f.tokenLifetime, "token-lifetime", "access token `lifetime`, e.g. 1h (default: the server's access_token_ttl)")
}

// apply copies the flags that were set onto a.
func (f *apiFlags) apply(fs *flag.FlagSet, a *store.API) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			a.Name = f.name
		case "allow-offline-access":
			a.AllowOfflineAccess = f.offline
		case "skip-consent-first-party":
			a.SkipConsentFirstParty = f.skipConsent
		case "signing-alg":
			a.SigningAlgorithm = f.alg
		case "token-lifetime":
			a.TokenLifetime = time.Duration(f.tokenLifetime)
		case "scope":
			a.Scopes = nil
			for _, s := range f.scopes {
				sc, e := oauth.ParseAPIScope(s)
				if e != nil && err == nil {
					err = e
				}
				a.Scopes = append(a.Scopes, sc)
			}
		}
	})
	return err
}

// durationFlag accepts "90s", "1h", "7d".
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Set(s string) error {
	v, err := config.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = durationFlag(v)
	return nil
}

func cmdAPIsCreate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apis create", "apis create --identifier URI --name NAME [--scope NAME[:description] …] [flags]")
	identifier := cmd.fs.String("identifier", "", "the API's identifier, used as audience (an absolute URI; required)")
	var f apiFlags
	f.register(cmd.fs)
	if _, err := cmd.parse(args, ""); err != nil {
		return err
	}
	if *identifier == "" || f.name == "" {
		return fmt.Errorf("%w: apis create: --identifier and --name are required", errUsage)
	}
	now := time.Now().UTC()
	a := store.API{Identifier: *identifier, SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now}
	if err := f.apply(cmd.fs, &a); err != nil {
		return err
	}
	if err := oauth.ValidateAPI(a); err != nil {
		return err
	}
	return cmd.open(ctx, func(cfg config.Config, st store.Store) error {
		if err := st.CreateAPI(ctx, a); err != nil {
			return conflict(err, "an API with identifier %q", a.Identifier)
		}
		if err := ensureRing(ctx, e, cfg, st, a.SigningAlgorithm); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created API %s\n", a.Identifier)
		return nil
	})
}

// ensureRing creates the signing keys of an API's algorithm now, so they are
// published before the first token is signed with them.
func ensureRing(ctx context.Context, e env, cfg config.Config, st store.Store, alg string) error {
	keys, err := openKeys(ctx, cfg, st, slog.New(slog.NewTextHandler(e.stderr, nil)))
	if err != nil {
		return err
	}
	return keys.EnsureAlgorithm(ctx, alg)
}

func cmdAPIsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apis update", "apis update IDENTIFIER [flags]")
	var f apiFlags
	f.register(cmd.fs)
	return cmd.run(ctx, args, "IDENTIFIER", func(cfg config.Config, st store.Store, pos []string) error {
		a, err := st.GetAPI(ctx, pos[0])
		if err != nil {
			return notFound("API", pos[0], err)
		}
		if err := f.apply(cmd.fs, &a); err != nil {
			return err
		}
		if err := oauth.ValidateAPI(a); err != nil {
			return err
		}
		a.UpdatedAt = time.Now().UTC()
		if err := st.UpdateAPI(ctx, a); err != nil {
			return err
		}
		if err := ensureRing(ctx, e, cfg, st, a.SigningAlgorithm); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "updated API %s\n", a.Identifier)
		return nil
	})
}

func cmdAPIsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apis list", "apis list [--db DB]")
	return cmd.run(ctx, args, "", func(_ config.Config, st store.Store, _ []string) error {
		apis, err := st.ListAPIs(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, a := range apis {
			names := make([]string, len(a.Scopes))
			for i, s := range a.Scopes {
				names[i] = s.Name
			}
			rows = append(rows, []string{a.Identifier, a.Name, a.SigningAlgorithm, strconv.FormatBool(a.AllowOfflineAccess), strings.Join(names, " ")})
		}
		return printTable(e.stdout, []string{"IDENTIFIER", "NAME", "ALG", "OFFLINE_ACCESS", "SCOPES"}, rows)
	})
}

func cmdAPIsShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "apis show", "IDENTIFIER", func(st store.Store, id string) (any, error) {
		a, err := st.GetAPI(ctx, id)
		if err != nil {
			return nil, notFound("API", id, err)
		}
		return map[string]any{
			"identifier": a.Identifier, "name": a.Name, "scopes": a.Scopes, "signing_alg": a.SigningAlgorithm,
			"token_lifetime": a.TokenLifetime.String(), "allow_offline_access": a.AllowOfflineAccess,
			"skip_consent_first_party": a.SkipConsentFirstParty, "created_at": a.CreatedAt, "updated_at": a.UpdatedAt,
		}, nil
	})
}

func cmdAPIsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "apis delete", "IDENTIFIER", func(st store.Store, id string) error {
		return st.DeleteAPI(ctx, id)
	})
}

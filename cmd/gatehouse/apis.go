package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
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
	fs := newFlagSet(e, "apis create", "apis create --identifier URI --name NAME [--scope NAME[:description] …] [flags]")
	var c commonFlags
	c.register(fs)
	identifier := fs.String("identifier", "", "the API's identifier, used as audience (an absolute URI; required)")
	var f apiFlags
	f.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	if *identifier == "" || f.name == "" {
		return fmt.Errorf("%w: apis create: --identifier and --name are required", errUsage)
	}
	now := time.Now().UTC()
	a := store.API{Identifier: *identifier, SigningAlgorithm: "RS256", CreatedAt: now, UpdatedAt: now}
	if err := f.apply(fs, &a); err != nil {
		return err
	}
	if err := oauth.ValidateAPI(a); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		if err := st.CreateAPI(ctx, a); err != nil {
			if isConflict(err) {
				return fmt.Errorf("an API with identifier %q already exists", a.Identifier)
			}
			return err
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
	fs := newFlagSet(e, "apis update", "apis update IDENTIFIER [flags]")
	var c commonFlags
	c.register(fs)
	var f apiFlags
	f.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: apis update takes exactly one IDENTIFIER", errUsage)
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		a, err := st.GetAPI(ctx, pos[0])
		if err != nil {
			return notFound("API", pos[0], err)
		}
		if err := f.apply(fs, &a); err != nil {
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
	fs := newFlagSet(e, "apis list", "apis list [--db DB]")
	var c commonFlags
	c.register(fs)
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		apis, err := st.ListAPIs(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "IDENTIFIER\tNAME\tALG\tOFFLINE_ACCESS\tSCOPES")
		for _, a := range apis {
			names := make([]string, len(a.Scopes))
			for i, s := range a.Scopes {
				names[i] = s.Name
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", a.Identifier, a.Name, a.SigningAlgorithm, a.AllowOfflineAccess, strings.Join(names, " "))
		}
		return tw.Flush()
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

// showOne implements "<things> show ID" as indented JSON.
func showOne(ctx context.Context, e env, args []string, name, what string, get func(store.Store, string) (any, error)) error {
	fs := newFlagSet(e, name, name+" "+what+" [--db DB]")
	var c commonFlags
	c.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s takes exactly one %s", errUsage, name, what)
	}
	cfg, err := c.load(e, fs, nil)
	if err != nil {
		return err
	}
	return withStore(ctx, cfg, func(st store.Store) error {
		v, err := get(st, pos[0])
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// notFound turns store.ErrNotFound into a message naming the thing.
func notFound(kind, id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %q not found", kind, id)
	}
	return err
}

package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/config"
	"gatehouse/internal/mgmt"
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
	rbac          bool
	permissions   bool
	dialect       string
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "API name")
	fs.Var(&f.scopes, "scope", "scope `NAME[:description]` (repeatable; on update replaces the list)")
	fs.BoolVar(&f.offline, "allow-offline-access", false, "allow refresh tokens for this API")
	fs.BoolVar(&f.skipConsent, "skip-consent-first-party", false, "first-party applications skip consent for this API")
	fs.StringVar(&f.alg, "signing-alg", "RS256", "access token signing algorithm: RS256, ES256 or EdDSA")
	fs.Var(&f.tokenLifetime, "token-lifetime", "access token `lifetime`, e.g. 1h (default: the server's access_token_ttl)")
	fs.BoolVar(&f.rbac, "rbac", false, "RBAC: users' access tokens carry only the scopes their roles and permissions grant (--rbac=false turns it off)")
	fs.BoolVar(&f.permissions, "permissions-claim", false, "add the permissions claim to access tokens: the _authz variant of the token dialect (needs --rbac)")
	fs.StringVar(&f.dialect, "token-dialect", "", "access token `dialect`: "+strings.Join(store.TokenDialects, ", ")+" (default rfc9068_profile)")
}

// settings returns the settings whose flags were set.
func (f *apiFlags) settings(fs *flag.FlagSet) (mgmt.APISettings, error) {
	var s mgmt.APISettings
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			s.Name = &f.name
		case "allow-offline-access":
			s.AllowOfflineAccess = &f.offline
		case "skip-consent-first-party":
			s.SkipConsentFirstParty = &f.skipConsent
		case "signing-alg":
			s.SigningAlgorithm = &f.alg
		case "token-lifetime":
			d := time.Duration(f.tokenLifetime)
			s.TokenLifetime = &d
		case "rbac":
			s.RBAC = &f.rbac
		case "permissions-claim":
			s.PermissionsClaim = &f.permissions
		case "token-dialect":
			s.TokenDialect = &f.dialect
		case "scope":
			scopes := []store.APIScope{}
			for _, v := range f.scopes {
				sc, e := mgmt.ParseAPIScope(v)
				if e != nil && err == nil {
					err = e
				}
				scopes = append(scopes, sc)
			}
			s.Scopes = &scopes
		}
	})
	return s, err
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
	in, err := f.settings(cmd.fs)
	if err != nil {
		return err
	}
	cmd.serviceNeeds = withKeys(e)
	return cmd.withService(ctx, func(_ config.Config, svc *mgmt.Service) error {
		a, err := svc.CreateAPI(ctx, *identifier, in)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stdout, "created API %s\n", a.Identifier)
		return nil
	})
}

func cmdAPIsUpdate(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apis update", "apis update IDENTIFIER [flags]")
	var f apiFlags
	f.register(cmd.fs)
	cmd.serviceNeeds = withKeys(e)
	return cmd.runService(ctx, args, "IDENTIFIER", func(_ config.Config, svc *mgmt.Service, pos []string) error {
		in, err := f.settings(cmd.fs)
		if err != nil {
			return err
		}
		a, err := svc.UpdateAPI(ctx, pos[0], in)
		if err != nil {
			return flagError(err)
		}
		fmt.Fprintf(e.stdout, "updated API %s\n", a.Identifier)
		return nil
	})
}

func cmdAPIsList(ctx context.Context, e env, args []string) error {
	cmd := newStoreCmd(e, "apis list", "apis list [--db DB]")
	return cmd.runService(ctx, args, "", func(_ config.Config, svc *mgmt.Service, _ []string) error {
		apis, err := svc.ListAPIs(ctx)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, a := range apis {
			names := make([]string, len(a.Scopes))
			for i, s := range a.Scopes {
				names[i] = s.Name
			}
			rows = append(rows, []string{a.Identifier, a.Name, a.SigningAlgorithm, strconv.FormatBool(a.AllowOfflineAccess),
				strconv.FormatBool(a.RBAC), a.Dialect(), strings.Join(names, " ")})
		}
		return printTable(e.stdout, []string{"IDENTIFIER", "NAME", "ALG", "OFFLINE_ACCESS", "RBAC", "TOKEN_DIALECT", "SCOPES"}, rows)
	})
}

func cmdAPIsShow(ctx context.Context, e env, args []string) error {
	return showOne(ctx, e, args, "apis show", "IDENTIFIER", func(svc *mgmt.Service, id string) (any, error) {
		a, err := svc.GetAPI(ctx, id)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"identifier": a.Identifier, "name": a.Name, "scopes": a.Scopes, "signing_alg": a.SigningAlgorithm,
			"token_lifetime": a.TokenLifetime.String(), "allow_offline_access": a.AllowOfflineAccess,
			"skip_consent_first_party": a.SkipConsentFirstParty, "rbac": a.RBAC, "token_dialect": a.Dialect(),
			"created_at": a.CreatedAt, "updated_at": a.UpdatedAt,
		}, nil
	})
}

func cmdAPIsDelete(ctx context.Context, e env, args []string) error {
	return deleteOne(ctx, e, args, "apis delete", "IDENTIFIER", func(svc *mgmt.Service, id string) error {
		return svc.DeleteAPI(ctx, id)
	})
}

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEndToEndLoadtestMachine runs "loadtest --setup-db" for the machine
// scenarios against a served database: the m2m application and its client
// grant are registered, the users written in batches (2,500: three
// transactions) and reset on a second run, and every flow passes the
// driver's checks.
func TestEndToEndLoadtestMachine(t *testing.T) {
	g := startGatehouse(t, nil)
	lookup := func(k string) (string, bool) {
		if k == "GATEHOUSE_SECRET_KEY" && g.cfg.SecretKey != "" {
			return g.cfg.SecretKey, true
		}
		return "", false
	}
	loadtest := func(scenario string, users string) (map[string]any, string) {
		t.Helper()
		var out, errb strings.Builder
		e := env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, lookupEnv: lookup}
		code := run(t.Context(), e, []string{"loadtest", "--issuer", g.issuer, "--setup-db", g.db,
			"--scenario", scenario, "--setup-users", users, "--concurrency", "2", "--count", "20", "--json"})
		if code != 0 {
			t.Fatalf("loadtest --scenario %s: exit %d: %s\n%s", scenario, code, errb.String(), out.String())
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(out.String()), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, out.String())
		}
		return rep, errb.String()
	}
	rep, log := loadtest("mgmt", "2500")
	if !strings.Contains(log, "2500 users created, 0 reset") {
		t.Errorf("set-up said %q, want 2500 users created", log)
	}
	if rep["ok"] != 20.0 || rep["errors"] != 0.0 {
		t.Errorf("mgmt: ok %v, errors %v (%v)", rep["ok"], rep["errors"], rep["first_error"])
	}
	rep, log = loadtest("client_credentials", "2500")
	if !strings.Contains(log, "0 users created, 2500 reset") {
		t.Errorf("second set-up said %q, want 2500 users reset", log)
	}
	if rep["ok"] != 20.0 || rep["errors"] != 0.0 {
		t.Errorf("client_credentials: ok %v, errors %v (%v)", rep["ok"], rep["errors"], rep["first_error"])
	}
}

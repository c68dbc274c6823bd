package mgmt_test

import (
	"net/http"
	"testing"
	"time"

	"gatehouse/internal/mgmt"
)

func TestUsers(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	bob := e.newUser(t, "gatehouse|bob", "bob@example.com")
	e.newUser(t, "gatehouse|bob2", "bob2@example.com")
	for _, key := range []string{"gatehouse|bob", "BOB@example.com"} {
		if u, err := e.svc.FindUser(ctx, key); err != nil || u.ID != bob.ID {
			t.Errorf("FindUser(%q) = %+v, %v", key, u, err)
		}
	}
	_, err := e.svc.FindUser(ctx, "zed@example.com")
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", `user "zed@example.com" not found`)

	e.now = e.now.Add(time.Hour)
	u, err := e.svc.UpdateUser(ctx, bob.ID, mgmt.UserSettings{Name: ptr("Bob"), Blocked: ptr(true), AppMetadata: &map[string]any{"plan": "pro"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Bob" || !u.Blocked || u.AppMetadata["plan"] != "pro" || u.Email != "bob@example.com" || !u.UpdatedAt.Equal(e.now) {
		t.Errorf("updated %+v", u)
	}
	_, err = e.svc.UpdateUser(ctx, "gatehouse|nope", mgmt.UserSettings{})
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", "not found")

	_, err = e.svc.LinkUsers(ctx, bob.ID, bob.ID)
	wantError(t, err, http.StatusBadRequest, mgmt.CodeInvalidBody, "user_id", "two different users")
	_, err = e.svc.LinkUsers(ctx, bob.ID, "gatehouse|nope")
	wantError(t, err, http.StatusNotFound, "inexistent_user", "", "not found")
	u, err = e.svc.LinkUsers(ctx, bob.ID, "gatehouse|bob2")
	if err != nil || len(u.Identities) != 2 {
		t.Errorf("linked %+v, %v", u, err)
	}

	if err := e.svc.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.svc.DeleteUser(ctx, bob.ID), http.StatusNotFound, "inexistent_user", "", "not found")
}

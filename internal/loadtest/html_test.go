package loadtest

import (
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoginForm(t *testing.T) {
	tests := []struct {
		name       string
		page       string
		wantAction string
		wantMethod string
		want       url.Values // nil: no login form
	}{{
		name: "gatehouse",
		page: `<!doctype html><html><head><title>Log in · App</title></head><body>
<!-- <form action="/decoy"><input type=password name=p></form> -->
<form method="post" action="/u/login" novalidate>
<input type="hidden" name="csrf" value="c&amp;1">
<input type="hidden" name="req" value="r1">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" required value="" autofocus>
<input id="password" name="password" type="password" required>
<button type="submit" name="action" value="login">Continue</button>
</form>`,
		wantAction: "/u/login", wantMethod: "POST",
		want: url.Values{"csrf": {"c&1"}, "req": {"r1"}, "email": {"ada@example.com"}, "password": {"pw"}, "action": {"login"}},
	}, {
		name: "keycloak style: unquoted and single-quoted attributes, upper case",
		page: `<SCRIPT>var s = "<form action='/x'><input type=password name=no>";</SCRIPT>
<FORM id=kc-form-login ACTION='https://id.example/realms/r/login-actions/authenticate?session_code=a&amp;execution=b' METHOD=post>
<INPUT tabindex=1 id=username name=username value="" type=text autofocus>
<input tabindex=2 id=password name=password type=password autocomplete=off/>
<input type=checkbox name=rememberMe>
<input type=hidden id=id-hidden-input name=credentialId value=>
<input tabindex=4 class=btn name=login id=kc-login type=submit value="Sign In"/>
</FORM>`,
		wantAction: "https://id.example/realms/r/login-actions/authenticate?session_code=a&execution=b", wantMethod: "POST",
		want: url.Values{"username": {"ada@example.com"}, "password": {"pw"}, "credentialId": {""}, "login": {"Sign In"}},
	}, {
		name: "dex: login field, no named button",
		page: `<form method="post" action="/dex/auth/local/login?back=&amp;state=s">
<input tabindex="1" required id="login" name="login" type="text" class="dex-form-input" placeholder="email address" autofocus />
<input tabindex="2" required id="password" name="password" type="password" class="dex-form-input" placeholder="password" />
<button tabindex="3" id="submit-login" type="submit" class="dex-btn theme-btn--primary">Login</button>
</form>`,
		wantAction: "/dex/auth/local/login?back=&state=s", wantMethod: "POST",
		want: url.Values{"login": {"ada@example.com"}, "password": {"pw"}},
	}, {
		name:       "unnamed account field before the password",
		page:       `<form><input type="text" name="ident"><input type="password" name="secret"></form>`,
		wantMethod: "GET",
		want:       url.Values{"ident": {"ada@example.com"}, "secret": {"pw"}},
	}, {
		name: "no password field",
		page: `<form method=post action=/u/consent><input type=hidden name=csrf value=c><button name=action value=accept>OK</button></form>`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, v, ok := parseHTML([]byte(tc.page)).loginForm("ada@example.com", "pw")
			if ok != (tc.want != nil) {
				t.Fatalf("login form found: %v, want %v", ok, tc.want != nil)
			}
			if !ok {
				return
			}
			if f.action != tc.wantAction || f.method != tc.wantMethod {
				t.Errorf("form %s %q, want %s %q", f.method, f.action, tc.wantMethod, tc.wantAction)
			}
			if diff := cmp.Diff(tc.want, v); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConsentForm(t *testing.T) {
	tests := []struct {
		name string
		page string
		want url.Values // nil: no consent form
	}{{
		name: "gatehouse",
		page: `<p>Signed in as <strong id="user">ada@example.com</strong>.</p>
<form method="post" action="/u/consent">
<input type="hidden" name="csrf" value="c1">
<input type="hidden" name="req" value="r1">
<div class="buttons">
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
<button type="submit" name="action" value="accept" id="accept">Accept</button>
</div>
</form>`,
		want: url.Values{"csrf": {"c1"}, "req": {"r1"}, "action": {"accept"}},
	}, {
		name: "dex: one form per answer",
		page: `<form method="post"><input type="hidden" name="req" value="r"/><input type="hidden" name="approval" value="rejected"/><button type="submit">Cancel</button></form>
<form method="post"><input type="hidden" name="req" value="r"/><input type="hidden" name="approval" value="approve"><button type="submit">Grant Access</button></form>`,
		want: url.Values{"req": {"r"}, "approval": {"approve"}},
	}, {
		name: "error page",
		page: `<main><h1>Something went wrong</h1><p class="alert" role="alert" id="error">Unknown client.</p></main>`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, v, ok := parseHTML([]byte(tc.page)).consentForm()
			if ok != (tc.want != nil) {
				t.Fatalf("consent form found: %v, want %v", ok, tc.want != nil)
			}
			if diff := cmp.Diff(tc.want, v); ok && diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct{ page, want string }{
		{`<title>Log in</title><p class="alert" role="alert" id="error">Wrong email
   or password.</p>`, "Wrong email or password."},
		{`<TITLE>Something &amp; else</TITLE><p>text</p>`, `page "Something & else"`},
		{`<p>plain`, "a page without a form the driver knows"},
		{`<textarea name=x><form></textarea><p role=alert>A &lt;b&gt;</p>`, "A <b>"},
	}
	for _, tc := range tests {
		if got := parseHTML([]byte(tc.page)).summary(); got != tc.want {
			t.Errorf("summary of %q = %q, want %q", tc.page, got, tc.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h hist
	for i := 1; i <= 10000; i++ { // 1 µs … 10 ms, uniformly
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := q * 10000
		if got := h.quantile(q); math.Abs(got-want)/want > 0.02 {
			t.Errorf("quantile(%v) = %.1f µs, want %.0f within 2%%", q, got, want)
		}
	}
	if h.maxMicro != 10000 || h.n != 10000 {
		t.Errorf("max %d, n %d", h.maxMicro, h.n)
	}
	// Every bucket's middle maps back to it.
	for i := range histBuckets - 1 {
		if got := bucketOf(uint64(bucketMid(i))); got != i {
			t.Fatalf("bucketOf(bucketMid(%d) = %v) = %d", i, bucketMid(i), got)
		}
	}
	var empty hist
	if empty.quantile(0.5) != 0 {
		t.Error("quantile of an empty histogram is not 0")
	}
}

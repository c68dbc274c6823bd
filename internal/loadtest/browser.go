package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// maxBody bounds what the driver reads of a response.
const maxBody = 1 << 20

// browser is one simulated browser: its own cookies, redirects followed on
// the provider, and a stop at the redirect to the client's redirect URI.
type browser struct {
	r *runner
	c *http.Client
}

func (r *runner) newBrowser() *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	b := &browser{r: r}
	b.c = &http.Client{
		Transport: r.cfg.Transport,
		Jar:       jar,
		Timeout:   r.cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if r.isCallback(req.URL) || !r.onProvider(req.URL) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
	return b
}

// page is where a navigation ended: a page on the provider, or the
// redirect to the client's redirect URI.
type page struct {
	url      *url.URL // of the page
	status   int
	body     []byte
	callback *url.URL // set when the provider redirected to the redirect URI
}

// describe names the page for an error message.
func (p page) describe() string {
	return fmt.Sprintf("status %d at %s: %s", p.status, redact(p.url), parseHTML(p.body).summary())
}

// get navigates to u.
func (b *browser) get(ctx context.Context, u string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return page{}, err
	}
	return b.do(req)
}

// submit sends a form of the page at base with values v, as a click on its
// submit button would.
func (b *browser) submit(ctx context.Context, base *url.URL, f form, v url.Values) (page, error) {
	action, err := base.Parse(f.action)
	if err != nil {
		return page{}, fmt.Errorf("form action %q: %w", f.action, err)
	}
	action.Fragment, action.RawFragment = "", ""
	var req *http.Request
	if f.method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(v.Encode()))
		if err != nil {
			return page{}, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		action.RawQuery = v.Encode()
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, action.String(), nil); err != nil {
			return page{}, err
		}
	}
	// What a browser sends with a form, so that cross-origin protection
	// sees a same-origin submission.
	site := "same-origin"
	if origin(action) != origin(base) {
		site = "cross-site"
	}
	req.Header.Set("Origin", origin(base))
	req.Header.Set("Sec-Fetch-Site", site)
	return b.do(req)
}

func (b *browser) do(req *http.Request) (page, error) {
	req.Header.Set("Accept", "text/html")
	req.Header.Set("User-Agent", userAgent)
	resp, err := b.c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return page{}, fmt.Errorf("read %s: %w", redact(resp.Request.URL), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	p := page{url: resp.Request.URL, status: resp.StatusCode, body: body}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		loc, err := resp.Location()
		if err != nil {
			return p, fmt.Errorf("redirect without a valid Location from %s", redact(p.url))
		}
		if !b.r.isCallback(loc) {
			return p, fmt.Errorf("redirected from %s to %s, neither the provider nor the redirect URI", redact(p.url), redact(loc))
		}
		p.callback = loc
	}
	return p, nil
}

// userAgent names the driver in the provider's logs.
const userAgent = "gatehouse-loadtest"

// origin is the scheme and host of u.
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

// redact drops the query and fragment, which carry codes and request ids,
// from a URL shown in a message.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.RawQuery, v.Fragment, v.RawFragment, v.User = "", "", "", nil
	return v.String()
}

package console

import (
	"net/http"
	"net/url"
)

// keyRoutes are the Signing keys page: the keys of each ring, a rotation
// (which the API holds back until the next key has settled) and the
// revocation of a previous key.
func (c *Console) keyRoutes() {
	c.page("GET "+Prefix+"/keys", c.keysList)
	c.page("GET "+Prefix+"/keys/rotate", c.keysRotateConfirm)
	c.page("POST "+Prefix+"/keys/rotate", c.keysRotate)
	c.page("GET "+Prefix+"/keys/{kid}/revoke", c.keyRevokeConfirm)
	c.page("POST "+Prefix+"/keys/{kid}/revoke", c.keyRevoke)
}

// signingKey is what the page reads of the API's signing key.
type signingKey struct {
	KID        string `json:"kid"`
	Alg        string `json:"alg"`
	Current    bool   `json:"current"`
	Next       bool   `json:"next"`
	Previous   bool   `json:"previous"`
	Revoked    bool   `json:"revoked"`
	RevokedAt  string `json:"revoked_at"`
	Published  bool   `json:"published"`
	CreatedAt  string `json:"created_at"`
	RetireAt   string `json:"retire_at"`
	Thumbprint string `json:"thumbprint"`
}

// State names the key's place in its ring.
func (k signingKey) State() string {
	switch {
	case k.Revoked:
		return "revoked"
	case k.Current:
		return "current"
	case k.Next:
		return "next"
	case k.Previous:
		return "previous"
	}
	return "retired"
}

// keysPage lists the keys; Keys are the search's page of them.
type keysPage struct {
	Page
	List List
	Keys []signingKey
}

func (c *Console) loadKeys(rq *Request, p *keysPage) error {
	var all []signingKey
	if err := rq.API.Get(rq.Context(), "/keys/signing", &all); err != nil {
		return err
	}
	p.Keys = pageOf(&p.List, all, func(k signingKey, q string) bool { return contains(q, k.KID, k.Alg, k.State(), k.Thumbprint) })
	return nil
}

func (c *Console) keysList(w http.ResponseWriter, rq *Request) error {
	p := keysPage{Page: rq.NewPage("Signing keys", "/keys"), List: ListOf(rq.Request)}
	switch q := rq.URL.Query(); {
	case q.Get("rotated") != "":
		p.Notice = "The keys were rotated: the next key " + q.Get("rotated") + " was published, and the former next key signs now."
	case q.Get("revoked") != "":
		p.Notice = "The key " + q.Get("revoked") + " was revoked."
	}
	if err := c.loadKeys(rq, &p); err != nil {
		return err
	}
	rq.Render(w, http.StatusOK, "keys", p)
	return nil
}

func (c *Console) keysRotateConfirm(w http.ResponseWriter, rq *Request) error {
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Rotate the signing keys", "/keys"),
		Message: "In each ring the next key starts signing, the current key becomes the previous one (published until the tokens it signed have expired) and a new next key is published. " +
			"The server refuses while the next key has been published for less than the key cache period plus the JWKS cache period (60 seconds), " +
			"so that no verifier holding a cached JWKS sees a token signed by a key it does not know yet.",
		Action: Prefix + "/keys/rotate", Button: "Rotate the keys", Cancel: Prefix + "/keys"})
	return nil
}

// keysRotate rotates; the API's refusal of a key that has not settled
// yet is shown on the list, with how long to wait.
func (c *Console) keysRotate(w http.ResponseWriter, rq *Request) error {
	var next struct {
		KID string `json:"kid"`
	}
	if err := rq.API.Post(rq.Context(), "/keys/signing/rotate", nil, &next); err != nil {
		p := keysPage{Page: rq.NewPage("Signing keys", "/keys"), List: ListOf(rq.Request)}
		if err := p.FormError(err); err != nil {
			return err
		}
		p.Error = "Not rotated: " + p.Error
		if err := c.loadKeys(rq, &p); err != nil {
			return err
		}
		rq.Render(w, http.StatusConflict, "keys", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/keys?rotated="+url.QueryEscape(next.KID), http.StatusSeeOther)
	return nil
}

func (c *Console) keyRevokeConfirm(w http.ResponseWriter, rq *Request) error {
	var k signingKey
	if err := rq.API.Get(rq.Context(), "/keys/signing/"+PathEscape(rq.PathValue("kid")), &k); err != nil {
		return err
	}
	path := Prefix + "/keys/" + url.PathEscape(k.KID)
	rq.Render(w, http.StatusOK, "confirm", ConfirmPage{Page: rq.NewPage("Revoke key "+k.KID, "/keys"),
		Message: "The " + k.State() + " key " + k.KID + " (" + k.Alg + ") stops being published: every token it signed stops verifying at once, here and within the key cache period on other servers. Only a previous key can be revoked. This cannot be undone.",
		Action:  path + "/revoke", Button: "Revoke the key", Cancel: Prefix + "/keys", Danger: true})
	return nil
}

func (c *Console) keyRevoke(w http.ResponseWriter, rq *Request) error {
	kid := rq.PathValue("kid")
	if err := rq.API.Do(rq.Context(), http.MethodPut, "/keys/signing/"+PathEscape(kid)+"/revoke", nil, nil); err != nil {
		p := keysPage{Page: rq.NewPage("Signing keys", "/keys"), List: ListOf(rq.Request)}
		if err := p.FormError(err); err != nil {
			return err
		}
		p.Error = "Not revoked: " + p.Error
		if err := c.loadKeys(rq, &p); err != nil {
			return err
		}
		rq.Render(w, http.StatusBadRequest, "keys", p)
		return nil
	}
	http.Redirect(w, rq.Request, Prefix+"/keys?revoked="+url.QueryEscape(kid), http.StatusSeeOther)
	return nil
}

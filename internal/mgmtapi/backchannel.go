package mgmtapi

import "gatehouse/internal/store"

// oidcLogout is the hosted service's oidc_logout object of an application
// (older name: oidc_backchannel_logout). Gatehouse keeps one back-channel
// logout URL per application, as the hosted service does.
type oidcLogout struct {
	BackchannelLogoutURLs *[]string `json:"backchannel_logout_urls,omitempty"`
}

func toOIDCLogout(c store.Client) *oidcLogout {
	urls := []string{}
	if c.BackchannelLogoutURI != "" {
		urls = []string{c.BackchannelLogoutURI}
	}
	return &oidcLogout{BackchannelLogoutURLs: &urls}
}

// backchannelLogoutURI returns the back-channel logout URI the body sets,
// nil when it sets none; an empty list turns it off.
func (in clientJSON) backchannelLogoutURI() (*string, error) {
	o := in.OIDCLogout
	if o == nil {
		o = in.OIDCBackchannelLogout
	} else if in.OIDCBackchannelLogout != nil {
		return nil, badRequest("set oidc_logout or its older name oidc_backchannel_logout, not both")
	}
	if o == nil || o.BackchannelLogoutURLs == nil {
		return nil, nil
	}
	switch urls := *o.BackchannelLogoutURLs; len(urls) {
	case 0:
		return ptr(""), nil
	case 1:
		if urls[0] == "" {
			return nil, badRequest("oidc_logout.backchannel_logout_urls must not hold an empty URL")
		}
		return ptr(urls[0]), nil
	default:
		return nil, badRequest("oidc_logout.backchannel_logout_urls takes one URL")
	}
}

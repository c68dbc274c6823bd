package loadtest

import (
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The hosted pages are read with a small tokenizer rather than a full HTML
// parser: a browser-free client needs only the forms (their action, method,
// inputs and submit buttons), the title and an alert's text, and the
// standard library has no HTML parser. It copes with what real pages hold:
// any case, quoted and unquoted attributes, character references, comments,
// and <script>, <style> and <textarea> content that may contain "<form".

// document is what the driver reads from an HTML page.
type document struct {
	forms []form
	title string
	alert string // text of the first element with role="alert"
}

// form is an HTML form as a browser would submit it.
type form struct {
	action  string // as written; empty means the page's own URL
	method  string // "GET" or "POST"
	fields  []field
	buttons []field // named submit buttons, in document order
}

// field is a successful-control candidate: an input, button or textarea.
type field struct {
	name    string
	value   string
	typ     string // lower case; "text" when absent, "submit" for buttons
	checked bool
}

// rawTextElements hold text in which markup is not recognised.
var rawTextElements = []string{"script", "style", "textarea", "title"}

// parseHTML extracts forms, the title and the alert text from a page.
func parseHTML(page []byte) document {
	s := string(page)
	var doc document
	var cur *form // the open form; nested form tags are ignored, as browsers do
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		i += lt
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "-->")
			if end < 0 {
				return doc
			}
			i += 4 + end + 3
			continue
		case strings.HasPrefix(rest, "<!"), strings.HasPrefix(rest, "<?"):
			i = skipPast(s, i, '>')
			continue
		case strings.HasPrefix(rest, "</"):
			name, _ := tagName(rest[2:])
			if name == "form" && cur != nil {
				doc.forms = append(doc.forms, *cur)
				cur = nil
			}
			i = skipPast(s, i, '>')
			continue
		}
		name, n := tagName(rest[1:])
		if name == "" { // a '<' that starts no tag is text
			i++
			continue
		}
		attrs, m := parseAttrs(rest[1+n:])
		i += 1 + n + m
		if slices.Contains(rawTextElements, name) {
			text, end := rawText(s, i, name)
			i = end
			switch name {
			case "title":
				doc.title = collapse(html.UnescapeString(text))
			case "textarea":
				if cur != nil && attrs["name"] != "" {
					// The first newline after <textarea> is not part of the value.
					text = strings.TrimPrefix(strings.TrimPrefix(text, "\r"), "\n")
					cur.fields = append(cur.fields, field{name: attrs["name"], value: html.UnescapeString(text), typ: "textarea"})
				}
			}
			continue
		}
		if attrs["role"] == "alert" && doc.alert == "" {
			if end := strings.IndexByte(s[i:], '<'); end >= 0 {
				doc.alert = collapse(html.UnescapeString(s[i : i+end]))
			}
		}
		switch name {
		case "form":
			if cur == nil {
				method := "GET"
				if strings.EqualFold(attrs["method"], "post") {
					method = "POST"
				}
				cur = &form{action: attrs["action"], method: method}
			}
		case "input":
			if cur == nil {
				continue
			}
			typ := strings.ToLower(attrs["type"])
			if typ == "" {
				typ = "text"
			}
			_, checked := attrs["checked"]
			f := field{name: attrs["name"], value: attrs["value"], typ: typ, checked: checked}
			if typ == "submit" || typ == "image" {
				if f.name != "" {
					cur.buttons = append(cur.buttons, f)
				}
				continue
			}
			cur.fields = append(cur.fields, f)
		case "button":
			if cur == nil {
				continue
			}
			typ := strings.ToLower(attrs["type"])
			if (typ == "" || typ == "submit") && attrs["name"] != "" {
				cur.buttons = append(cur.buttons, field{name: attrs["name"], value: attrs["value"], typ: "submit"})
			}
		}
	}
	if cur != nil { // an unclosed form ends with the document
		doc.forms = append(doc.forms, *cur)
	}
	return doc
}

// tagName reads an element name at the start of s and returns it in lower
// case with its length; "" when s does not start with a letter.
func tagName(s string) (string, int) {
	n := 0
	for n < len(s) {
		c := s[n]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || n > 0 && (c >= '0' && c <= '9' || c == '-' || c == ':') {
			n++
			continue
		}
		break
	}
	return strings.ToLower(s[:n]), n
}

// parseAttrs reads attributes up to and including the tag's closing '>'
// and returns them (names in lower case, values unescaped; the first of a
// repeated name wins) with the number of bytes read.
func parseAttrs(s string) (map[string]string, int) {
	attrs := map[string]string{}
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '>' {
			return attrs, i + 1
		}
		if s[i] == '/' {
			i++
			continue
		}
		start := i
		for i < len(s) && !isSpace(s[i]) && s[i] != '=' && s[i] != '>' && (s[i] != '/' || i == start) {
			i++
		}
		name := strings.ToLower(s[start:i])
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		value := ""
		if i < len(s) && s[i] == '=' {
			i++
			for i < len(s) && isSpace(s[i]) {
				i++
			}
			if i < len(s) && (s[i] == '"' || s[i] == '\'') {
				q := s[i]
				end := strings.IndexByte(s[i+1:], q)
				if end < 0 {
					return attrs, len(s)
				}
				value = s[i+1 : i+1+end]
				i += end + 2
			} else {
				vs := i
				for i < len(s) && !isSpace(s[i]) && s[i] != '>' {
					i++
				}
				value = s[vs:i]
			}
		}
		if _, dup := attrs[name]; !dup && name != "" {
			attrs[name] = html.UnescapeString(value)
		}
	}
	return attrs, len(s)
}

// rawText returns the text of a raw-text element that starts at i and the
// offset after its end tag.
func rawText(s string, i int, name string) (string, int) {
	lower := strings.ToLower(s[i:])
	end := strings.Index(lower, "</"+name)
	if end < 0 {
		return s[i:], len(s)
	}
	return s[i : i+end], skipPast(s, i+end, '>')
}

// skipPast returns the offset just after the next c at or after i.
func skipPast(s string, i int, c byte) int {
	if j := strings.IndexByte(s[i:], c); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

// collapse trims s and turns each run of white space into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// userFieldNames are the names login forms give the account field: the
// hosted pages of Gatehouse and Auth0 use email, Keycloak username, Dex login.
var userFieldNames = []string{"email", "username", "login", "user"}

// acceptValues are the values of the submit control that grants consent.
var acceptValues = []string{"accept", "allow", "approve", "grant"}

// loginForm finds the form with a password field and fills it as a user
// would: its hidden and preset fields, the account name, the password and
// the first named submit button.
func (d document) loginForm(user, password string) (form, url.Values, bool) {
	for _, f := range d.forms {
		pw := slices.IndexFunc(f.fields, func(x field) bool { return x.typ == "password" && x.name != "" })
		if pw < 0 {
			continue
		}
		acct := slices.IndexFunc(f.fields, func(x field) bool {
			return x.typ != "hidden" && slices.Contains(userFieldNames, strings.ToLower(x.name))
		})
		if acct < 0 { // otherwise the text or email field before the password
			for i := pw - 1; i >= 0; i-- {
				if t := f.fields[i].typ; (t == "text" || t == "email") && f.fields[i].name != "" {
					acct = i
					break
				}
			}
		}
		if acct < 0 {
			continue
		}
		v := f.preset(func(i int) bool { return i != pw && i != acct })
		v.Set(f.fields[acct].name, user)
		v.Set(f.fields[pw].name, password)
		if len(f.buttons) > 0 {
			v.Add(f.buttons[0].name, f.buttons[0].value)
		}
		return f, v, true
	}
	return form{}, nil, false
}

// consentForm finds the form that grants consent: one with a named submit
// button whose value accepts (Gatehouse: name=action value=accept), or one
// whose hidden field carries an accepting value and that has no password
// (Dex: approval=approve). It returns the values that button sends.
func (d document) consentForm() (form, url.Values, bool) {
	accepts := func(x field) bool { return slices.Contains(acceptValues, strings.ToLower(x.value)) }
	for _, f := range d.forms {
		if slices.ContainsFunc(f.fields, func(x field) bool { return x.typ == "password" }) {
			continue
		}
		if i := slices.IndexFunc(f.buttons, accepts); i >= 0 {
			v := f.preset(func(int) bool { return true })
			v.Add(f.buttons[i].name, f.buttons[i].value)
			return f, v, true
		}
		if slices.ContainsFunc(f.fields, func(x field) bool { return x.typ == "hidden" && accepts(x) }) {
			return f, f.preset(func(int) bool { return true }), true
		}
	}
	return form{}, nil, false
}

// preset returns the values the form sends untouched: hidden and text-like
// fields with their values, checked boxes; keep filters by field index.
func (f form) preset(keep func(int) bool) url.Values {
	v := url.Values{}
	for i, x := range f.fields {
		if x.name == "" || !keep(i) {
			continue
		}
		switch x.typ {
		case "checkbox", "radio":
			if x.checked {
				value := x.value
				if value == "" {
					value = "on"
				}
				v.Add(x.name, value)
			}
		case "file", "reset", "button":
		default:
			v.Add(x.name, x.value)
		}
	}
	return v
}

// summary describes a page for an error message: its alert, else its title.
func (d document) summary() string {
	switch {
	case d.alert != "":
		return d.alert
	case d.title != "":
		return "page " + strconv.Quote(truncate(d.title, 120))
	}
	return "a page without a form the driver knows"
}

// truncate shortens s to at most n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

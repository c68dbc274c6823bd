package webapp

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages holds the parsed templates, one set per page so each can define its
// own title and content blocks inside the shared layout.
type pages struct {
	home, profile, error *template.Template
}

func parsePages() (*pages, error) {
	parse := func(name string) (*template.Template, error) {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		return t, nil
	}
	var p pages
	var err error
	if p.home, err = parse("home.html"); err != nil {
		return nil, err
	}
	if p.profile, err = parse("profile.html"); err != nil {
		return nil, err
	}
	if p.error, err = parse("error.html"); err != nil {
		return nil, err
	}
	return &p, nil
}

type homePage struct {
	Profile *profile // nil when signed out
}

type profilePage struct {
	Profile       *profile
	APIConfigured bool
	APIStatus     int // set after /call-api
	APIResponse   string
	APIChallenge  string
}

func (p *pages) renderHome(w http.ResponseWriter, data homePage) error {
	return render(w, p.home, http.StatusOK, data)
}

func (p *pages) renderProfile(w http.ResponseWriter, data profilePage) error {
	return render(w, p.profile, http.StatusOK, data)
}

// renderError writes the error page; it is the last resort, so it falls back
// to plain text rather than returning an error.
func (p *pages) renderError(w http.ResponseWriter, e *pageError) {
	if err := render(w, p.error, e.Status, e); err != nil {
		http.Error(w, http.StatusText(e.Status), e.Status)
	}
}

// render executes t into a buffer first, so a template failure never leaves a
// half-written page behind a 200 status.
func render(w http.ResponseWriter, t *template.Template, status int, data any) error {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", t.Name(), err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// A failed write means the client went away; there is nothing left to tell it.
	_, _ = buf.WriteTo(w)
	return nil
}

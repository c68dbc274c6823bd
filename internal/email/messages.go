package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
)

//go:embed templates
var templateFS embed.FS

// Templates are parsed once; they are embedded, so a parse error is a bug
// the package's tests catch.
var (
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
)

// Branding is how a message presents itself: the application the user
// signs in to and, when the flow is for an organization, that
// organization's display name, logo and primary color (the fields of
// store.Organization).
type Branding struct {
	AppName      string // "Gatehouse" when empty
	OrgName      string // the organization's display name, if any
	LogoURL      string // https URL of the organization's logo; others are left out
	PrimaryColor string // "#RRGGBB", the button color; others fall back to the default
}

// defaultColor is the hosted pages' accent color (web/static/style.css).
const defaultColor = "#2454d6"

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// view is what every template sees.
type view struct {
	Brand     string // the organization's name, else the application's
	AppName   string
	OrgName   string
	LogoURL   string
	Color     string // button background
	TextColor string // button text, readable on Color
	Email     string // the recipient
	Link      string
	Link2     string
	ExpiresIn string // "30 minutes"
}

func newView(to string, b Branding) (view, error) {
	a, err := mail.ParseAddress(to)
	if err != nil {
		return view{}, errNoRecipient
	}
	v := view{AppName: oneLine(b.AppName), OrgName: oneLine(b.OrgName), Email: a.Address, Color: defaultColor}
	if v.AppName == "" {
		v.AppName = "Gatehouse"
	}
	v.Brand = v.AppName
	if v.OrgName != "" {
		v.Brand = v.OrgName
	}
	if u, err := url.Parse(b.LogoURL); err == nil && u.Scheme == "https" && u.Host != "" {
		v.LogoURL = u.String()
	}
	if hexColor.MatchString(b.PrimaryColor) {
		v.Color = strings.ToLower(b.PrimaryColor)
	}
	v.TextColor = readableOn(v.Color)
	return v, nil
}

// VerifyEmail asks the recipient to confirm their address by opening link,
// which expires after expiresIn.
func VerifyEmail(to string, b Branding, link string, expiresIn time.Duration) (Message, error) {
	v, err := newView(to, b)
	if err != nil {
		return Message{}, fmt.Errorf("verification email: %w", err)
	}
	if v.Link, err = checkLink(link); err != nil {
		return Message{}, fmt.Errorf("verification email: %w", err)
	}
	if v.ExpiresIn, err = humanDuration(expiresIn); err != nil {
		return Message{}, fmt.Errorf("verification email: %w", err)
	}
	return render("verify_email", "Verify your email address for "+v.Brand, v)
}

// ResetPassword sends a link to choose a new password, which expires
// after expiresIn.
func ResetPassword(to string, b Branding, link string, expiresIn time.Duration) (Message, error) {
	v, err := newView(to, b)
	if err != nil {
		return Message{}, fmt.Errorf("password reset email: %w", err)
	}
	if v.Link, err = checkLink(link); err != nil {
		return Message{}, fmt.Errorf("password reset email: %w", err)
	}
	if v.ExpiresIn, err = humanDuration(expiresIn); err != nil {
		return Message{}, fmt.Errorf("password reset email: %w", err)
	}
	return render("reset_password", "Reset your "+v.Brand+" password", v)
}

// AccountExists goes to the owner of an address someone tried to sign up
// with again, so the sign-up page can answer as it does for a new account
// without revealing that this one exists. It offers loginLink and, when
// not empty, resetLink (the forgot-password page).
func AccountExists(to string, b Branding, loginLink, resetLink string) (Message, error) {
	v, err := newView(to, b)
	if err != nil {
		return Message{}, fmt.Errorf("account exists email: %w", err)
	}
	if v.Link, err = checkLink(loginLink); err != nil {
		return Message{}, fmt.Errorf("account exists email: %w", err)
	}
	if resetLink != "" {
		if v.Link2, err = checkLink(resetLink); err != nil {
			return Message{}, fmt.Errorf("account exists email: %w", err)
		}
	}
	return render("account_exists", "You already have an account with "+v.Brand, v)
}

// PasswordChanged tells the owner that their password was changed, and
// where to reset it (resetLink, the forgot-password page; may be empty)
// if they did not.
func PasswordChanged(to string, b Branding, resetLink string) (Message, error) {
	v, err := newView(to, b)
	if err != nil {
		return Message{}, fmt.Errorf("password changed email: %w", err)
	}
	if resetLink != "" {
		if v.Link, err = checkLink(resetLink); err != nil {
			return Message{}, fmt.Errorf("password changed email: %w", err)
		}
	}
	return render("password_changed", "Your "+v.Brand+" password was changed", v)
}

func render(kind, subject string, v view) (Message, error) {
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, kind+".txt", v); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", kind, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, kind+".html", v); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", kind, err)
	}
	return Message{To: v.Email, Subject: subject, Text: text.String(), HTML: html.String(), Kind: kind}, nil
}

// checkLink accepts an absolute http(s) URL without spaces, so that it
// appears verbatim in the text part and mail programs make it clickable.
func checkLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.ContainsFunc(link, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", errors.New("link is not an absolute http(s) URL")
	}
	return link, nil
}

// oneLine keeps a name that goes into a subject on one line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// humanDuration writes a link's lifetime for people: "30 minutes",
// "1 hour", "24 hours", "7 days".
func humanDuration(d time.Duration) (string, error) {
	if d < time.Minute {
		return "", fmt.Errorf("lifetime %v is shorter than a minute", d)
	}
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + one + "s"
	}
	switch {
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day"), nil
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour"), nil
	default:
		return unit(int64(d.Round(time.Minute)/time.Minute), "minute"), nil
	}
}

// readableOn picks dark or white text for a button of color bg ("#rrggbb"),
// by the WCAG relative luminance.
func readableOn(bg string) string {
	c, err := strconv.ParseUint(bg[1:], 16, 32)
	if err != nil {
		return "#ffffff"
	}
	lin := func(v uint64) float64 {
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(c>>16&0xff) + 0.7152*lin(c>>8&0xff) + 0.0722*lin(c&0xff)
	// Contrast with white is 1.05/(l+0.05); with #1d2330 (luminance ≈ 0.016) it is (l+0.05)/0.066.
	if 1.05/(l+0.05) >= (l+0.05)/0.066 {
		return "#ffffff"
	}
	return "#1d2330"
}

// buttonView is the "button" template's data.
type buttonView struct {
	URL, Label, Color, TextColor string
}

// Button is a link drawn as a button in the brand's color.
func (v view) Button(url, label string) buttonView {
	return buttonView{URL: url, Label: label, Color: v.Color, TextColor: v.TextColor}
}

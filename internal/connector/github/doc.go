// Package github is the github connection: login with GitHub or GitHub
// Enterprise Server through an OAuth app, the profile read from the user
// and emails APIs.
package github

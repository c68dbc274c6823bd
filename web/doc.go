// Package web owns the hosted pages' embedded templates and static files and
// renders each page through one typed method.
package web

// Package config owns Gatehouse's settings: defaults, the YAML file,
// GATEHOUSE_* environment overrides and validation.
package config

package main

import (
	"context"
	"errors"
)

func cmdLoadtest(ctx context.Context, e env, args []string) error {
	return errors.New("loadtest: not built yet")
}

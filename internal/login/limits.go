package login

import (
	"errors"
	"fmt"
	"net/http"
)

// maxFormBytes bounds every body the hosted pages and /dbconnections read.
// The largest legitimate one, a passkey form with its WebAuthn response,
// is a few KiB.
const maxFormBytes = 64 << 10

// tooLarge reports whether err came from a body over maxFormBytes.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// tooLargeMessage is the answer to a body over maxFormBytes.
var tooLargeMessage = fmt.Sprintf("The form is larger than %d KiB.", maxFormBytes>>10)

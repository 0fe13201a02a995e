package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxBody is the largest request body the API reads.
const maxBody = 64 << 10

var (
	errMediaType = &apiError{http.StatusUnsupportedMediaType, codeInvalidRequest,
		"request body must be application/json"}
	errTooLarge = &apiError{http.StatusRequestEntityTooLarge, codeInvalidRequest,
		"request body is larger than 64 KiB"}
	errSyntax    = invalidRequest("request body is not a valid JSON object")
	errUTF8      = invalidRequest("request body is not valid UTF-8")
	errUnknown   = invalidRequest("request body has a member this route does not accept")
	errDuplicate = invalidRequest("request body has a member more than once")
	errTrailing  = invalidRequest("request body has data after the JSON object")
)

// decode reads the JSON object in r's body into dst, a pointer to a struct
// whose json tags name every member the route accepts.
//
// encoding/json alone is too lenient for an API that must refuse what it
// does not understand: it matches member names without regard to case, lets
// a later duplicate member win, and ignores data after the first value. The
// members are therefore checked by name, exactly, before decoding.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if !isJSON(r.Header.Get("Content-Type")) {
		return errMediaType
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errTooLarge
	}
	if err != nil {
		return invalidRequest("request body could not be read")
	}
	if !utf8.Valid(body) {
		return errUTF8
	}

	if err := checkMembers(body, memberNames(dst)); err != nil {
		return err
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return invalidRequest("member %s has the wrong type", typeErr.Field)
		}
		return errSyntax
	}
	if _, err := dec.Token(); err != io.EOF {
		return errTrailing
	}
	return nil
}

// isJSON reports whether a Content-Type header names JSON, in UTF-8 if a
// charset is given at all.
func isJSON(contentType string) bool {
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil || media != "application/json" {
		return false
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			return false
		}
	}
	return true
}

// checkMembers walks the top level of the JSON object in body and refuses
// it if a member is not in allowed or appears twice.
func checkMembers(body []byte, allowed []string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errSyntax
	}

	seen := make(map[string]bool, len(allowed))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return errSyntax
		}
		name, _ := t.(string)
		switch {
		case !slices.Contains(allowed, name):
			return errUnknown
		case seen[name]:
			return errDuplicate
		}
		seen[name] = true

		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errSyntax
		}
	}
	return nil
}

// memberNames returns the JSON member names of the struct dst points to.
func memberNames(dst any) []string {
	t := reflect.TypeOf(dst).Elem()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

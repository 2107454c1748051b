package captures

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Dir is the directory of the shared client captures, found from this
// source file so that it does not depend on the test's working directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "fixtures", "clients")
}

// Body returns a captured HTTP request without its start line and
// headers; a capture without a blank line is all body.
func Body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[i+2:]
	}
	return raw
}

// WbemcliRequests returns the bodies of the captured wbemcli requests, in
// the order of their file names.
func WbemcliRequests() ([][]byte, error) {
	dir := Dir()
	files, _ := filepath.Glob(filepath.Join(dir, "wbemcli-requests*", "*.txt"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no wbemcli request captures under %s: the shared fixtures belong at ../shared next to the repository", dir)
	}
	out := make([][]byte, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Body(raw))
	}
	return out, nil
}

//go:build !linux

package zkshell

import (
	"errors"
	"os"
)

// makeRaw is only implemented on Linux; elsewhere the shell reads plain
// lines.
func makeRaw(f *os.File) (func(), error) {
	return nil, errors.New("zkshell: line editing is only supported on linux")
}

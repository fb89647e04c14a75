//go:build !linux

package rawio

import (
	"net"
	"os"
)

// Conn returns c: raw calls are implemented for Linux only.
func Conn(c net.Conn) net.Conn { return c }

// File is an *os.File; raw calls are implemented for Linux only.
type File struct{ *os.File }

// NewFile wraps f.
func NewFile(f *os.File) *File { return &File{File: f} }

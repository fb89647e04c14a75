//go:build linux && !amd64 && !arm64

package rawio

// sysPreadv2 is 0 where its number is not listed here: ReadAt then makes
// ordinary calls.
const sysPreadv2 = 0

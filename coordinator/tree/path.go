package tree

import (
	"strings"
	"unicode/utf8"

	"kzoo/coordinator/jute"
)

// CheckPath applies ZooKeeper's PathUtils.validatePath: an absolute path,
// no trailing slash (except the root), no empty, "." or ".." segments, no
// NUL or control characters and none of the code points Java rejects
// (surrogates, which is every rune beyond the BMP, and U+D800-U+F8FF,
// U+FFF0-U+FFFF). It returns jute.OK or jute.ErrBadArguments.
func (t *Tree) CheckPath(path string) jute.Code {
	if validPath(path) {
		return jute.OK
	}
	return jute.ErrBadArguments
}

func validPath(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true
	}
	if path[len(path)-1] == '/' {
		return false
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); {
			r, size := utf8.DecodeRuneInString(seg[i:])
			i += size
			if r == utf8.RuneError && size == 1 {
				r = 0xFFFD // what Java's UTF-8 decoder substitutes
			}
			if !validPathRune(r) {
				return false
			}
		}
	}
	return true
}

func validPathRune(r rune) bool {
	switch {
	case r == 0:
		return false
	case r <= 0x1f:
		return false
	case r >= 0x7f && r <= 0x9f:
		return false
	case r >= 0xd800 && r <= 0xf8ff:
		return false
	case r >= 0xfff0 && r <= 0xffff:
		return false
	case r > 0xffff: // a surrogate pair in Java's UTF-16
		return false
	}
	return true
}

// splitParent is PrepRequestProcessor's lastIndexOf('/') split: ok is
// false when there is no slash or a NUL anywhere. The root's parent is "".
func splitParent(path string) (parent, child string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || strings.IndexByte(path, 0) >= 0 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// lookupPath maps ZooKeeper's root alias "" (what the parent of "/a" is
// called) to "/".
func lookupPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// isSpecialPath is DataTree.isSpecialPath: nodes that can never be deleted.
func isSpecialPath(p string) bool {
	return p == "/" || p == procPath || p == quotaPath || p == configPath
}

const (
	procPath   = "/zookeeper"
	quotaPath  = "/zookeeper/quota"
	configPath = "/zookeeper/config"
)

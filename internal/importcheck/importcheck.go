// Package importcheck enforces that kzoo's pure cores stay pure: the
// packages that decide (coordinator/tree, coordinator/zab,
// broker/controller) may not import net, os or time (or their
// subpackages), so that they run deterministically under simulation. It
// also finds such imports in the kzoo packages a pure core depends on,
// which callers may report as a softer finding. It reads source files only; it never builds, runs or
// changes anything.
package importcheck

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Forbidden are the standard packages (and their subpackages) a pure core
// may not import.
var Forbidden = []string{"net", "os", "time"}

// Violation is one forbidden import.
type Violation struct {
	Package string // the kzoo package holding the import, e.g. "coordinator/tree"
	File    string // file path relative to the module root
	Line    int
	Import  string // the forbidden import path
	Via     string // the pure package whose closure reached Package
}

// Direct reports whether the import is in the pure package itself rather
// than in a kzoo package it imports.
func (v Violation) Direct() bool { return v.Package == v.Via }

func (v Violation) String() string {
	s := fmt.Sprintf("%s:%d: imports %q", v.File, v.Line, v.Import)
	if v.Via != v.Package {
		s += fmt.Sprintf(" (reached from pure package %s)", v.Via)
	}
	return s
}

// forbidden reports whether path is one of Forbidden or below one.
func forbidden(path string) bool {
	for _, f := range Forbidden {
		if path == f || strings.HasPrefix(path, f+"/") {
			return true
		}
	}
	return false
}

// imports maps each import of the non-test Go files of dir to where it
// first appears. Files with build constraints are read like any other.
func imports(root, dir string) (map[string]token.Position, error) {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		return nil, err
	}
	out := map[string]token.Position{}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		f, err := parser.ParseFile(fset, filepath.Join(root, path), nil, parser.ImportsOnly)
		if err != nil {
			return nil, fmt.Errorf("importcheck: %w", err)
		}
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return nil, fmt.Errorf("importcheck: %s: bad import %s", path, imp.Path.Value)
			}
			if _, seen := out[p]; !seen {
				pos := fset.Position(imp.Pos())
				pos.Filename = path
				out[p] = pos
			}
		}
	}
	return out, nil
}

// Check walks each pure package (a directory relative to root, the module
// root of module) and the kzoo packages it imports, transitively, and
// returns every forbidden import found, sorted by file and line.
func Check(root, module string, pure []string) ([]Violation, error) {
	var out []Violation
	for _, p := range pure {
		seen := map[string]bool{}
		queue := []string{p}
		for len(queue) > 0 {
			dir := queue[0]
			queue = queue[1:]
			if seen[dir] {
				continue
			}
			seen[dir] = true
			imps, err := imports(root, dir)
			if err != nil {
				return nil, err
			}
			for imp, pos := range imps {
				switch {
				case forbidden(imp):
					out = append(out, Violation{Package: dir, File: pos.Filename, Line: pos.Line, Import: imp, Via: p})
				case strings.HasPrefix(imp, module+"/"):
					queue = append(queue, strings.TrimPrefix(imp, module+"/"))
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

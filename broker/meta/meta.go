// Package meta owns a log directory's meta.properties, the file Kafka
// writes in every log dir to bind it to one cluster and one broker (ZooKeeper
// mode: version 0, broker.id; KRaft format: version 1, node.id). It reads
// and writes that file and nothing else in the directory.
package meta

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileName is the file's name inside a log directory.
const FileName = "meta.properties"

// Read parses dir's meta.properties; nil, nil when there is none.
func Read(dir string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return Parse(b), nil
}

// Parse reads meta.properties' key=value lines ('#' comments).
func Parse(b []byte) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// Write replaces dir's meta.properties with kvs (in that order) under
// Java's Properties header comment, written aside and renamed into place.
func Write(dir string, now time.Time, kvs ...[2]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "#\n#%s\n", now.UTC().Format("Mon Jan 02 15:04:05 MST 2006"))
	for _, kv := range kvs {
		fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
	}
	p := filepath.Join(dir, FileName)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("meta: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("meta: writing %s: %w", p, err)
	}
	return nil
}

package storage

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const epochFile = "leader-epoch-checkpoint"

// epochEntry says leader epoch epoch began at offset start.
type epochEntry struct {
	epoch int32
	start int64
}

// epochCache is the partition's leader epoch history, kept in Kafka's
// leader-epoch-checkpoint text format: a version line (0), a count line,
// then "epoch startOffset" per line. Entries are strictly increasing in both
// fields. Lock should be held by the caller (Log.wmu for changes, Log.mu for
// the slice).
type epochCache struct {
	fs      FS
	path    string
	entries []epochEntry
}

func loadEpochs(fsys FS, dir string) (*epochCache, error) {
	c := &epochCache{fs: fsys, path: filepath.Join(dir, epochFile)}
	b, err := fsys.ReadFile(c.path)
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: reading %s: %w", c.path, err)
	}
	entries, err := parseEpochs(b)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", c.path, err)
	}
	c.entries = entries
	return c, nil
}

func parseEpochs(b []byte) ([]epochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	nextLine := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := nextLine()
	if !ok || v != "0" {
		return nil, fmt.Errorf("line 1: version %q, want 0", v)
	}
	cs, ok := nextLine()
	n, err := strconv.Atoi(cs)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("line 2: entry count %q", cs)
	}
	var out []epochEntry
	for i := 0; i < n; i++ {
		l, ok := nextLine()
		if !ok {
			return nil, fmt.Errorf("line %d: %d entries announced, %d found", line+1, n, i)
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: %q is not \"epoch offset\"", line, l)
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return nil, fmt.Errorf("line %d: %q is not \"epoch offset\"", line, l)
		}
		if k := len(out); k > 0 && (int32(e) <= out[k-1].epoch || o < out[k-1].start) {
			return nil, fmt.Errorf("line %d: entry %q does not follow %d %d", line, l, out[k-1].epoch, out[k-1].start)
		}
		out = append(out, epochEntry{int32(e), o})
	}
	return out, nil
}

func (c *epochCache) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.epoch, e.start)
	}
	return b.Bytes()
}

func (c *epochCache) save() error { return writeFileAtomic(c.fs, c.path, c.encode()) }

func (c *epochCache) latest() int32 {
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].epoch
}

// assign records that epoch begins at start, when it is newer than the
// latest known epoch. It reports whether the cache changed.
func (c *epochCache) assign(epoch int32, start int64) bool {
	if epoch < 0 {
		return false
	}
	if n := len(c.entries); n > 0 {
		last := c.entries[n-1]
		if epoch <= last.epoch {
			return false
		}
		if start < last.start {
			// a newer epoch cannot start before an older one: drop the stale ones, as Kafka does
			for len(c.entries) > 0 && c.entries[len(c.entries)-1].start >= start {
				c.entries = c.entries[:len(c.entries)-1]
			}
		}
	}
	c.entries = append(c.entries, epochEntry{epoch, start})
	return true
}

// truncateFromEnd drops entries starting at or after end offset.
func (c *epochCache) truncateFromEnd(end int64) bool {
	n := len(c.entries)
	for len(c.entries) > 0 && c.entries[len(c.entries)-1].start >= end {
		c.entries = c.entries[:len(c.entries)-1]
	}
	return len(c.entries) != n
}

// truncateFromStart drops entries wholly before start; the one covering it
// is moved to begin at start.
func (c *epochCache) truncateFromStart(start int64) bool {
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].start <= start {
		i++
	}
	changed := i > 0
	c.entries = c.entries[i:]
	if len(c.entries) > 0 && c.entries[0].start < start {
		c.entries[0].start = start
		changed = true
	}
	return changed
}

// endOffsetFor answers OffsetForLeaderEpoch as Kafka's LeaderEpochFileCache
// does: for the latest epoch the log end offset; for an older one the start
// of the next higher epoch, with the largest known epoch not above the
// request; (-1, -1) when the request is above every epoch or nothing is known.
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if epoch == c.entries[n-1].epoch {
		return epoch, leo
	}
	hi := -1
	for i, e := range c.entries {
		if e.epoch > epoch {
			hi = i
			break
		}
	}
	if hi < 0 {
		return -1, -1
	}
	if hi == 0 {
		return epoch, c.entries[0].start
	}
	return c.entries[hi-1].epoch, c.entries[hi].start
}

// writeFileAtomic replaces path with data durably: temp file, fsync,
// rename, fsync of the directory.
func writeFileAtomic(fsys FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("storage: creating %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return fmt.Errorf("storage: writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: closing %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: renaming %s: %w", tmp, err)
	}
	return syncDir(fsys, filepath.Dir(path))
}

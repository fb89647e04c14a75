package storagetool

import "os"

func mkdirAll(d string) error { return os.MkdirAll(d, 0o755) }

func isDir(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

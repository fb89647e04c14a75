package zkshell

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readAll feeds keys to an editor and collects the lines it returns.
func readAll(t *testing.T, keys string) ([]string, *editor, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	e := newEditor(strings.NewReader(keys), &out)
	var lines []string
	for i := 0; i < 100; i++ {
		e.begin("> ")
		line, err := e.readLine()
		if err == io.EOF {
			return lines, e, &out
		}
		require.NoError(t, err)
		lines = append(lines, line)
	}
	t.Fatal("editor did not reach end of input")
	return nil, nil, nil
}

func TestShellEditorKeys(t *testing.T) {
	for _, tc := range []struct {
		name, keys string
		want       []string
	}{
		{"plain", "ls /\rget /a\n", []string{"ls /", "get /a"}},
		{"backspace", "lsx\x7f /\r", []string{"ls /"}},
		{"left arrow insert", "l /\x1b[D\x1b[Ds\r", []string{"ls /"}},
		{"home end", "s /\x1b[Hl\x1b[Fa\r", []string{"ls /a"}},
		{"ctrl-a ctrl-e ctrl-k", "xx ls /\x01\x06\x06\x0b\x05\r", []string{"xx"}},
		{"ctrl-u", "junk\x15ls /\r", []string{"ls /"}},
		{"ctrl-w", "ls /junk\x17/a\r", []string{"ls /a"}},
		{"delete key", "lss /\x01\x06\x1b[3~\r", []string{"ls /"}},
		{"history up", "ls /\r\x1b[A\r", []string{"ls /", "ls /"}},
		{"history up down keeps typing", "ls /\rget\x1b[A\x1b[B /x\r", []string{"ls /", "get /x"}},
		{"ctrl-c drops line", "oops\x03ls /\r", []string{"ls /"}},
		{"tab completes a command", "getAl\t/a\r", []string{"getAllChildrenNumber /a"}},
		{"ctrl-d on text deletes", "lsx /\x01\x06\x06\x04\r", []string{"ls /"}},
		{"utf-8", "create /é ü\r", []string{"create /é ü"}},
	} {
		lines, _, _ := readAll(t, tc.keys+"\x04")
		require.Equal(t, tc.want, lines, tc.name)
	}
}

func TestShellEditorRedrawsAroundEvents(t *testing.T) {
	var out bytes.Buffer
	e := newEditor(strings.NewReader(""), &out)
	e.begin("[zk] ")
	e.mu.Lock()
	e.buf, e.pos = []rune("ls /a"), 3
	e.mu.Unlock()
	out.Reset()
	e.interrupt(func() { out.WriteString("\nWATCHER::\n") })
	require.Equal(t, "\r\x1b[K\nWATCHER::\n\r[zk] ls /a\x1b[K\x1b[2D", out.String())

	lines, ed, _ := readAll(t, "ls /\rls /\rstat /\r\x04")
	require.Len(t, lines, 3)
	require.Equal(t, []string{"ls /", "stat /"}, ed.history, "repeated lines are kept once")
}

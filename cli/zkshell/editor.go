package zkshell

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// editor is the shell's line editor on a terminal in raw mode: cursor
// movement (arrows, Home/End, Ctrl-A/E/B/F), deletion (Backspace, Del,
// Ctrl-K/U/W), history (Up/Down), command-name completion (Tab), Ctrl-C
// to drop the line and Ctrl-D on an empty line for end of input.
//
// It owns the terminal while a line is being edited; anything else that
// prints meanwhile goes through interrupt, which clears the line, prints,
// and draws the line again. mu guards everything below it.
type editor struct {
	in  *bufio.Reader
	out io.Writer

	mu      sync.Mutex
	prompt  string
	buf     []rune
	pos     int
	active  bool
	history []string
	hpos    int
	saved   []rune // the line being typed while browsing history
}

func newEditor(in io.Reader, out io.Writer) *editor {
	return &editor{in: bufio.NewReader(in), out: out}
}

// begin shows prompt and starts a new line.
func (e *editor) begin(prompt string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prompt, e.buf, e.pos, e.active = prompt, nil, 0, true
	e.hpos, e.saved = len(e.history), nil
	io.WriteString(e.out, prompt)
}

// interrupt runs print with the line being edited, if any, taken off the
// screen, then draws it again.
func (e *editor) interrupt(print func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active {
		io.WriteString(e.out, "\r\x1b[K")
	}
	print()
	if e.active {
		e.redraw()
	}
}

// redraw draws prompt and line and puts the cursor in place. Lock should
// be held.
func (e *editor) redraw() {
	var b strings.Builder
	b.WriteString("\r")
	b.WriteString(e.prompt)
	b.WriteString(string(e.buf))
	b.WriteString("\x1b[K")
	if back := len(e.buf) - e.pos; back > 0 {
		fmt.Fprintf(&b, "\x1b[%dD", back)
	}
	io.WriteString(e.out, b.String())
}

// readLine edits one line and returns it; io.EOF at end of input or on
// Ctrl-D with an empty line.
func (e *editor) readLine() (string, error) {
	for {
		r, _, err := e.in.ReadRune()
		if err != nil {
			e.mu.Lock()
			e.active = false
			e.mu.Unlock()
			return "", err
		}
		if line, done, err := e.key(r); done {
			return line, err
		}
	}
}

// key applies one key; done reports a finished line (or end of input).
func (e *editor) key(r rune) (line string, done bool, err error) {
	if r == 0x1b {
		return "", false, e.escape()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch r {
	case '\r', '\n':
		line = string(e.buf)
		io.WriteString(e.out, "\r\n")
		e.active = false
		if strings.TrimSpace(line) != "" && (len(e.history) == 0 || e.history[len(e.history)-1] != line) {
			e.history = append(e.history, line)
		}
		return line, true, nil
	case 0x04: // Ctrl-D
		if len(e.buf) == 0 {
			io.WriteString(e.out, "\r\n")
			e.active = false
			return "", true, io.EOF
		}
		e.deleteAt(e.pos)
	case 0x03: // Ctrl-C drops the line
		io.WriteString(e.out, "^C\r\n")
		e.buf, e.pos = nil, 0
		io.WriteString(e.out, e.prompt)
		return "", false, nil
	case 0x7f, 0x08:
		if e.pos > 0 {
			e.pos--
			e.deleteAt(e.pos)
		}
	case 0x01:
		e.pos = 0
	case 0x05:
		e.pos = len(e.buf)
	case 0x02:
		e.move(-1)
	case 0x06:
		e.move(1)
	case 0x0b:
		e.buf = e.buf[:e.pos]
	case 0x15:
		e.buf = append([]rune(nil), e.buf[e.pos:]...)
		e.pos = 0
	case 0x17:
		start := e.pos
		for start > 0 && unicode.IsSpace(e.buf[start-1]) {
			start--
		}
		for start > 0 && !unicode.IsSpace(e.buf[start-1]) {
			start--
		}
		e.buf = append(e.buf[:start], e.buf[e.pos:]...)
		e.pos = start
	case 0x0c:
		io.WriteString(e.out, "\x1b[H\x1b[2J")
	case 0x10:
		e.browse(-1)
	case 0x0e:
		e.browse(1)
	case '\t':
		e.complete()
	default:
		if r < 0x20 {
			return "", false, nil
		}
		e.buf = append(e.buf[:e.pos], append([]rune{r}, e.buf[e.pos:]...)...)
		e.pos++
	}
	e.redraw()
	return "", false, nil
}

// escape reads the rest of an escape sequence (ESC [ x, ESC [ n ~, ESC O x).
func (e *editor) escape() error {
	r, _, err := e.in.ReadRune()
	if err != nil {
		return err
	}
	if r != '[' && r != 'O' {
		return nil
	}
	var num []rune
	for {
		r, _, err = e.in.ReadRune()
		if err != nil {
			return err
		}
		if r < '0' || r > '9' {
			break
		}
		num = append(num, r)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case r == 'A':
		e.browse(-1)
	case r == 'B':
		e.browse(1)
	case r == 'C':
		e.move(1)
	case r == 'D':
		e.move(-1)
	case r == 'H', r == '~' && (string(num) == "1" || string(num) == "7"):
		e.pos = 0
	case r == 'F', r == '~' && (string(num) == "4" || string(num) == "8"):
		e.pos = len(e.buf)
	case r == '~' && string(num) == "3":
		e.deleteAt(e.pos)
	}
	e.redraw()
	return nil
}

// Lock should be held for the helpers below.

func (e *editor) deleteAt(i int) {
	if i >= 0 && i < len(e.buf) {
		e.buf = append(e.buf[:i], e.buf[i+1:]...)
	}
}

func (e *editor) move(d int) {
	e.pos = min(max(e.pos+d, 0), len(e.buf))
}

func (e *editor) browse(d int) {
	n := e.hpos + d
	if n < 0 || n > len(e.history) {
		return
	}
	if e.hpos == len(e.history) {
		e.saved = append([]rune(nil), e.buf...)
	}
	e.hpos = n
	if n == len(e.history) {
		e.buf = append([]rune(nil), e.saved...)
	} else {
		e.buf = []rune(e.history[n])
	}
	e.pos = len(e.buf)
}

// complete completes the command name under the cursor, or lists the
// candidates when there are several.
func (e *editor) complete() {
	word := string(e.buf[:e.pos])
	if strings.ContainsAny(word, " \t") {
		return
	}
	var cands []string
	for name := range commands {
		if strings.HasPrefix(name, word) {
			cands = append(cands, name)
		}
	}
	sort.Strings(cands)
	switch len(cands) {
	case 0:
	case 1:
		rest := []rune(cands[0][len(word):] + " ")
		e.buf = append(append(append([]rune(nil), e.buf[:e.pos]...), rest...), e.buf[e.pos:]...)
		e.pos += len(rest)
	default:
		io.WriteString(e.out, "\r\n"+strings.Join(cands, "  ")+"\r\n")
	}
}

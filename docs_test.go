package session

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocsGoBlocksAreCompiled: every Go block of README.md, and every code
// block of doc.go, is an excerpt of Go code that is compiled: its lines,
// leading white space and blank lines aside, stand consecutively in one .go
// file of the repository (an Example, a test, an example program). A
// snippet edited without its source, or a source changed under a snippet,
// fails here.
func TestDocsGoBlocksAreCompiled(t *testing.T) {
	if _, err := os.Stat("redisstore/go.mod"); err != nil {
		t.Skip("the repository's other modules are not here: this copy of the module is not a checkout of the repository")
	}
	sources := goSources(t)
	blocks := append(markdownGoBlocks(t, "README.md"), docCodeBlocks(t, "doc.go")...)
	if len(blocks) < 3 {
		t.Fatalf("found only %d code blocks: the extraction is broken", len(blocks))
	}
	for _, b := range blocks {
		if !slices.ContainsFunc(sources, func(src []string) bool { return containsRun(src, b.lines) }) {
			t.Errorf("%s:%d: this Go block is not an excerpt of any .go file of the repository:\n%s",
				b.file, b.line, strings.Join(b.lines, "\n"))
		}
	}
}

type codeBlock struct {
	file  string
	line  int
	lines []string // trimmed, blank lines dropped
}

// goSources returns the trimmed lines of every .go file of the repository.
func goSources(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out = append(out, trimmedLines(strings.Split(string(data), "\n")))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// markdownGoBlocks returns the ```go blocks of a Markdown file.
func markdownGoBlocks(t *testing.T, file string) []codeBlock {
	t.Helper()
	var out []codeBlock
	var cur *codeBlock
	for i, line := range fileLines(t, file) {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &codeBlock{file: file, line: i + 2}
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.lines = trimmedLines(cur.lines)
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	return out
}

// docCodeBlocks returns the code blocks of a Go file's comments: runs of
// comment lines indented by a tab.
func docCodeBlocks(t *testing.T, file string) []codeBlock {
	t.Helper()
	var out []codeBlock
	var cur *codeBlock
	for i, line := range append(fileLines(t, file), "") {
		code, ok := strings.CutPrefix(line, "//\t")
		if ok {
			if cur == nil {
				cur = &codeBlock{file: file, line: i + 1}
			}
			cur.lines = append(cur.lines, code)
			continue
		}
		if cur != nil && strings.TrimSpace(line) != "//" {
			cur.lines = trimmedLines(cur.lines)
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

func fileLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// trimmedLines returns lines without their leading and trailing white
// space, blank lines dropped.
func trimmedLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containsRun reports whether run stands in src as consecutive lines.
func containsRun(src, run []string) bool {
	for i := 0; i+len(run) <= len(src); i++ {
		if slices.Equal(src[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

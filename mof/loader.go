package mof

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Loader reads MOF files and, recursively, the files they name in
// #pragma include. An included name is looked up relative to the directory
// of the file that includes it, then in each of IncludeDirs, as OpenPegasus'
// cimmofl -I does.
type Loader struct {
	IncludeDirs []string
	// ReadFile reads one file; nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
	// Progress, when set, is called after each file is parsed with the
	// number of files parsed so far; the CLI draws its progress bar with it.
	Progress func(files int)

	files int
}

// Load parses the named files and everything they include. It returns the
// trees of all files it could read, in command-line order, and every error
// found (unreadable files, include cycles, syntax errors).
func (l *Loader) Load(names ...string) ([]*File, ErrorList) {
	var errs ErrorList
	var files []*File
	for _, name := range names {
		f, fileErrs := l.load([]string{name}, Pos{}, nil)
		errs = append(errs, fileErrs...)
		if f != nil {
			files = append(files, f)
		}
	}
	return files, errs
}

func (l *Loader) read(name string) ([]byte, error) {
	if l.ReadFile != nil {
		return l.ReadFile(name)
	}
	return os.ReadFile(name)
}

// load parses one file; from is the #pragma include that named it and stack
// the chain of files being included, to refuse cycles. Candidates are the
// paths to try in order; the first that exists is used.
func (l *Loader) load(candidates []string, from Pos, stack []string) (*File, ErrorList) {
	name := candidates[0]
	var src []byte
	var err error
	for _, c := range candidates {
		src, err = l.read(c)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			name = c
			break
		}
	}
	if err != nil {
		pos := from
		if !pos.IsValid() {
			pos = Pos{File: name}
		}
		return nil, ErrorList{{Pos: pos, Msg: "cannot read " + name + ": " + ioErrText(err), Err: err}}
	}
	f, parseErr := Parse(name, src)
	var errs ErrorList
	if parseErr != nil {
		errs = append(errs, parseErr.(ErrorList)...)
	}
	l.files++
	if l.Progress != nil {
		l.Progress(l.files)
	}
	stack = append(stack, name)
	for _, prod := range f.Productions {
		pr, ok := prod.(*Pragma)
		if !ok || !strings.EqualFold(pr.Name, "include") {
			continue
		}
		if len(pr.Args) != 1 || pr.Args[0].Kind != StringValue || pr.Args[0].Str == "" {
			errs = append(errs, &Error{Pos: pr.Pos, Msg: `#pragma include takes one file name in double quotes: #pragma include ("file.mof")`})
			continue
		}
		cands := l.candidates(name, pr.Args[0].Str)
		if cycle := indexOf(stack, cands[0]); cycle >= 0 {
			errs = append(errs, &Error{Pos: pr.Pos, Msg: "include cycle: " + strings.Join(append(stack[cycle:], cands[0]), " includes ")})
			continue
		}
		inc, incErrs := l.load(cands, pr.Args[0].Pos, stack)
		errs = append(errs, incErrs...)
		pr.Included = inc
	}
	return f, errs
}

// candidates lists where an included file may be: relative to the including
// file's directory first, then in each include directory. Backslashes,
// which Windows-written MOF uses, count as separators.
func (l *Loader) candidates(from, name string) []string {
	name = filepath.FromSlash(strings.ReplaceAll(name, `\`, "/"))
	if filepath.IsAbs(name) {
		return []string{name}
	}
	list := []string{filepath.Join(filepath.Dir(from), name)}
	for _, dir := range l.IncludeDirs {
		list = append(list, filepath.Join(dir, name))
	}
	return list
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// ioErrText shortens the common I/O errors to what a user needs to read.
func ioErrText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

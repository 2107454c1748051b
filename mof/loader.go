package mof

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Loader reads MOF files and, recursively, the files they name in
// #pragma include. An included name is looked up relative to the directory
// of the file that includes it, then in each of IncludeDirs, as OpenPegasus'
// cimmofl -I does.
//
// Includes are confined: an included file must lie in the directory tree
// of the file named to Load that (directly or not) includes it, or in the
// tree of one of IncludeDirs, symbolic links resolved. A MOF file from
// elsewhere therefore cannot make the compiler read, and quote in its
// messages, /etc/shadow or ../../secret. AllowOutsideIncludes lifts this.
type Loader struct {
	IncludeDirs []string
	// AllowOutsideIncludes lets #pragma include name any file the process
	// can read, absolute paths and ".." included.
	AllowOutsideIncludes bool
	// ReadFile reads one file; nil means os.ReadFile. With a ReadFile of
	// its own the names are only compared lexically (no symbolic links
	// are resolved), as suits an fs.FS.
	ReadFile func(name string) ([]byte, error)
	// Progress, when set, is called after each file is parsed with the
	// number of files parsed so far; the CLI draws its progress bar with it.
	Progress func(files int)

	files int
	// osPaths says that ReadFile reads OS paths (CompileSource's wrapper
	// of os.ReadFile), so symbolic links are resolved all the same.
	osPaths bool
}

// Load parses the named files and everything they include. It returns the
// trees of all files it could read, in command-line order, and every error
// found (unreadable files, include cycles, includes outside the allowed
// directories, syntax errors).
func (l *Loader) Load(names ...string) ([]*File, ErrorList) {
	var errs ErrorList
	var files []*File
	for _, name := range names {
		var roots []string
		if !l.AllowOutsideIncludes {
			roots = l.roots(name)
		}
		f, fileErrs := l.load([]string{name}, Pos{}, nil, roots)
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

// load parses one file; from is the #pragma include that named it, stack
// the chain of files being included, to refuse cycles, and roots the
// directories includes must stay in (nil: anywhere). Candidates are the
// paths to try in order; the first that exists is used.
func (l *Loader) load(candidates []string, from Pos, stack, roots []string) (*File, ErrorList) {
	name := candidates[0]
	var src []byte
	err := fs.ErrNotExist // until a candidate is read
	for _, c := range candidates {
		if from.IsValid() && roots != nil {
			// The first candidate that exists is the file; one outside
			// the roots is refused unread.
			real, exists := l.realPath(c)
			if !exists {
				continue
			}
			if !withinAny(roots, real) {
				return nil, ErrorList{{Pos: from, Msg: fmt.Sprintf(
					"#pragma include: %s is outside the directories included files may come from"+
						" (%s: the compiled file's directory and the -I directories); pass --allow-outside-includes to follow it anyway",
					c, strings.Join(roots, ", "))}}
			}
		}
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
		inc, incErrs := l.load(cands, pr.Args[0].Pos, stack, roots)
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

// roots lists the directories the includes of top-level file name must
// stay in: its own directory and the include directories.
func (l *Loader) roots(name string) []string {
	roots := make([]string, 0, 1+len(l.IncludeDirs))
	for _, dir := range append([]string{filepath.Dir(name)}, l.IncludeDirs...) {
		real, _ := l.realPath(dir)
		roots = append(roots, real)
	}
	return roots
}

// realPath is the absolute path of name with symbolic links resolved, and
// whether it exists, when files come from the OS. With a ReadFile of the
// caller's the name is only cleaned and taken to exist.
func (l *Loader) realPath(name string) (string, bool) {
	if l.ReadFile != nil && !l.osPaths {
		return filepath.Clean(name), true
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name), false
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return abs, false
	}
	return real, true
}

// withinAny reports whether path is one of roots or lies below one.
func withinAny(roots []string, path string) bool {
	for _, root := range roots {
		rel, err := filepath.Rel(root, path)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return true
		}
	}
	return false
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

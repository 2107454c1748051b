package mof

import (
	"fmt"
	"os"
	"strings"

	"github.com/hypercim/hypercim/cim"
)

// DefaultNamespace is where declarations go when neither the caller nor a
// #pragma namespace names one, as in OpenPegasus' cimmof.
const DefaultNamespace = "root/cimv2"

// Compiler compiles MOF into a Target.
//
// A compile runs in two steps. First every declaration is checked and
// staged in memory, on top of what the Target already holds; errors are
// collected, each with its file:line:col, and the compile goes on to find
// the next. Then, only if there was no error at all, the staged writes are
// replayed into the Target in source order. A MOF file with an error thus
// leaves the Target untouched; a replay interrupted midway (kill -9) leaves
// a prefix of the writes, and running the same compile again completes it,
// since writing an identical definition is a no-op.
//
// When the Target is itself a *MemTarget, declarations are compiled into it
// directly, without staging (that is what `hypercim mof check` does).
type Compiler struct {
	Target Target
	// Namespace is the namespace declarations go to until a
	// #pragma namespace changes it; DefaultNamespace when empty.
	Namespace string
	// Loader reads the MOF files and the files they include.
	Loader Loader
	// Progress, when set, is called as work advances: phase "parse" with
	// the number of files parsed (total 0, unknown), then phase "compile"
	// with declarations compiled out of total, then phase "write" with
	// writes replayed into the Target out of total.
	Progress func(phase string, done, total int)
}

// Result summarises a compile.
type Result struct {
	// Declarations compiled without error, including those that were
	// already in the Target unchanged.
	QualifierTypes int
	Classes        int
	Instances      int
	// Namespaces lists the namespaces declarations went to.
	Namespaces []string
	// Warnings are problems that do not stop the compile, such as
	// ignored pragmas.
	Warnings ErrorList
}

// CompileFiles parses the named files (following #pragma include) and
// compiles them. The error, if any, is an ErrorList with one entry per
// problem, syntax and semantic, in source order.
func (c *Compiler) CompileFiles(names ...string) (*Result, error) {
	loader := c.Loader
	if c.Progress != nil && loader.Progress == nil {
		loader.Progress = func(n int) { c.Progress("parse", n, 0) }
	}
	files, parseErrs := loader.Load(names...)
	return c.compile(files, parseErrs)
}

// CompileSource compiles MOF text held in memory; name is used in
// positions and to resolve #pragma include relative to it.
func (c *Compiler) CompileSource(name string, src []byte) (*Result, error) {
	withSource := *c
	read := c.Loader.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	withSource.Loader.osPaths = c.Loader.ReadFile == nil
	withSource.Loader.ReadFile = func(n string) ([]byte, error) {
		if n == name {
			return src, nil
		}
		return read(n)
	}
	return withSource.CompileFiles(name)
}

// Compile compiles already parsed files, whose includes the Loader has
// resolved.
func (c *Compiler) Compile(files ...*File) (*Result, error) {
	return c.compile(files, nil)
}

func (c *Compiler) compile(files []*File, parseErrs ErrorList) (*Result, error) {
	if c.Target == nil {
		return nil, fmt.Errorf("mof: Compiler.Target is nil")
	}
	ns := strings.Trim(c.Namespace, "/")
	if ns == "" {
		ns = DefaultNamespace
	}
	stage, direct := c.Target.(*MemTarget)
	if !direct {
		stage = NewMemTarget(c.Target)
	}
	cc := &compiler{
		Compiler: c,
		stage:    stage,
		direct:   direct,
		ns:       ns,
		errs:     parseErrs,
		aliases:  map[string]*aliasEntry{},
		declared: map[string]Pos{},
		result:   &Result{},
	}
	cc.run(files)
	cc.errs.sortBySource(cc.fileOrder)
	cc.result.Warnings.sortBySource(cc.fileOrder)
	if len(cc.errs) > 0 {
		return cc.result, cc.errs
	}
	if !direct {
		if err := cc.replay(); err != nil {
			return cc.result, err
		}
	}
	return cc.result, nil
}

// compiler is the state of one compile run.
type compiler struct {
	*Compiler
	stage  *MemTarget
	direct bool
	ns     string // the current namespace
	errs   ErrorList
	result *Result
	// quiet > 0 suppresses error messages while a value is computed ahead
	// of its declaration (an alias's path); failed counts them instead.
	quiet, failed int
	// log holds the staged writes, replayed into the Target at the end.
	log []stagedWrite
	// namespaces lists the namespaces compiled into, in order, with the
	// #pragma namespace that named each (none for the first).
	namespaces []namespaceUse
	aliases    map[string]*aliasEntry
	// declared maps "ns\x00kind\x00folded name" to where a qualifier type,
	// class or instance was declared in this run, to report redefinitions.
	declared map[string]Pos
	// classDecls maps folded class names to their declarations in any
	// file of this run, to tell "declared later" from "not declared".
	classDecls map[string]Pos
	// embeddedChecks are EmbeddedInstance("Class") names, checked at the
	// end since they may name classes declared further on.
	embeddedChecks []embeddedCheck
	done, total    int
	// fileOrder ranks files in the order they are compiled, to sort
	// messages in source order across includes.
	fileOrder map[string]int
}

type namespaceUse struct {
	name string
	pos  Pos
}

type stagedWrite struct {
	pos   Pos
	ns    string
	qt    *cim.QualifierType
	class *cim.Class
	inst  *cim.Instance
}

type embeddedCheck struct {
	pos       Pos
	ns        string
	className string
	what      string
}

func (c *compiler) errorf(pos Pos, format string, args ...any) {
	if c.quiet > 0 {
		c.failed++
		return
	}
	c.errs = append(c.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(pos Pos, format string, args ...any) {
	if c.quiet > 0 {
		return
	}
	c.result.Warnings = append(c.result.Warnings, &Error{Pos: pos, Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// targetErr reports an error from the Target at pos.
func (c *compiler) targetErr(pos Pos, what string, err error) {
	if c.quiet > 0 {
		c.failed++
		return
	}
	c.errs = append(c.errs, &Error{Pos: pos, Msg: what + ": " + errText(err), Err: err})
}

func (c *compiler) run(files []*File) {
	c.prepass(files)
	var first Pos
	if len(files) > 0 {
		first.File = files[0].Name
	}
	c.ensureNamespace(first, c.ns)
	for _, f := range files {
		c.compileFile(f)
	}
	c.checkEmbedded()
}

// walk visits the productions of files in compile order, descending into
// included files, and tracks #pragma namespace so that visit sees the
// namespace each production belongs to.
func walk(files []*File, ns string, visitFile func(f *File), visit func(p Production, ns string)) {
	var rec func(f *File)
	rec = func(f *File) {
		visitFile(f)
		for _, p := range f.Productions {
			if pr, ok := p.(*Pragma); ok {
				switch strings.ToLower(pr.Name) {
				case "include":
					if pr.Included != nil {
						rec(pr.Included)
					}
					continue
				case "namespace":
					if n, ok := pragmaNamespace(pr); ok {
						ns = n
					}
				}
			}
			visit(p, ns)
		}
	}
	for _, f := range files {
		rec(f)
	}
}

// prepass collects aliases and class declarations before compiling, so
// that an instance may refer to an alias declared further on, and counts
// the declarations for progress reports.
func (c *compiler) prepass(files []*File) {
	c.classDecls = map[string]Pos{}
	c.fileOrder = map[string]int{}
	addFile := func(f *File) {
		if _, ok := c.fileOrder[f.Name]; !ok {
			c.fileOrder[f.Name] = len(c.fileOrder)
		}
	}
	walk(files, c.ns, addFile, func(p Production, ns string) {
		switch d := p.(type) {
		case *ClassDecl:
			c.total++
			key := cim.FoldName(d.Name)
			if _, ok := c.classDecls[key]; !ok {
				c.classDecls[key] = d.NamePos
			}
			if d.Alias != "" {
				c.addAlias(&aliasEntry{name: d.Alias, pos: d.NamePos, ns: ns, class: d})
			}
		case *InstanceDecl:
			c.total++
			if d.Alias != "" {
				c.addAlias(&aliasEntry{name: d.Alias, pos: d.AliasPos, ns: ns, inst: d})
			}
		case *QualifierDecl:
			c.total++
		}
	})
}

func (c *compiler) addAlias(a *aliasEntry) {
	key := cim.FoldName(a.name)
	if prev, ok := c.aliases[key]; ok {
		c.errorf(a.pos, "alias $%s is already defined at %s", a.name, prev.pos)
		return
	}
	c.aliases[key] = a
}

func (c *compiler) compileFile(f *File) {
	for _, p := range f.Productions {
		switch d := p.(type) {
		case *Pragma:
			c.pragma(d)
			continue
		case *QualifierDecl:
			c.qualifierDecl(d)
		case *ClassDecl:
			c.classDecl(d)
		case *InstanceDecl:
			c.instanceDecl(d)
		}
		c.done++
		if c.Progress != nil && (c.done%64 == 0 || c.done == c.total) {
			c.Progress("compile", c.done, c.total)
		}
	}
}

// pragma carries out a compiler directive. DSP0221 defines include,
// locale, instancelocale, namespace, nonlocal, nonlocaltype, source and
// sourcetype; unknown pragmas are ignored with a warning, as the
// specification allows.
func (c *compiler) pragma(p *Pragma) {
	name := strings.ToLower(p.Name)
	switch name {
	case "include":
		// The Loader parsed the file (or reported why it could not).
		if p.Included != nil {
			c.compileFile(p.Included)
		}
	case "namespace":
		ns, ok := pragmaNamespace(p)
		if !ok {
			c.errorf(p.Pos, `#pragma namespace takes one namespace name in double quotes, e.g. #pragma namespace ("root/cimv2")`)
			return
		}
		if !validNamespace(ns) {
			c.errorf(p.Args[0].Pos, "invalid namespace name %q: use names separated by '/', e.g. \"root/cimv2\"", ns)
			return
		}
		c.ns = ns
		c.ensureNamespace(p.Pos, ns)
	case "locale", "instancelocale":
		// Locales label the language of translatable qualifiers; the
		// values are kept as written, so only the syntax is checked.
		if len(p.Args) != 1 || p.Args[0].Kind != StringValue || !validLocale(p.Args[0].Str) {
			c.errorf(p.Pos, `#pragma %s takes one locale in double quotes, e.g. #pragma %s ("en_US")`, p.Name, name)
		}
	case "nonlocal", "nonlocaltype", "source", "sourcetype":
		c.warnf(p.Pos, "#pragma %s is ignored: it describes instances held by another CIM server, which hypercim does not federate", p.Name)
	case "classflags", "deleteclass", "deleteinstance", "autorecover":
		c.warnf(p.Pos, "#pragma %s is a Microsoft WMI extension and is ignored", p.Name)
	default:
		c.warnf(p.Pos, "unknown #pragma %s is ignored", p.Name)
	}
}

// pragmaNamespace returns the namespace a #pragma namespace names,
// normalised: WMI-style "\\.\root\cimv2" and "//./root/cimv2" become
// "root/cimv2".
func pragmaNamespace(p *Pragma) (string, bool) {
	if len(p.Args) != 1 || p.Args[0].Kind != StringValue {
		return "", false
	}
	ns := strings.ReplaceAll(p.Args[0].Str, `\`, "/")
	if strings.HasPrefix(ns, "//") {
		// Drop the host part: //host/root/cimv2.
		rest := ns[2:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "", false
		}
		ns = rest[i:]
	}
	return strings.Trim(ns, "/"), true
}

// validLocale accepts the ll_CC (or ll-CC) form DSP0221 uses.
func validLocale(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (c *compiler) ensureNamespace(pos Pos, ns string) {
	for _, n := range c.namespaces {
		if cim.EqualNames(n.name, ns) {
			return
		}
	}
	if err := c.stage.EnsureNamespace(ns); err != nil {
		c.targetErr(pos, "namespace "+ns, err)
		return
	}
	c.namespaces = append(c.namespaces, namespaceUse{ns, pos})
	c.result.Namespaces = append(c.result.Namespaces, ns)
}

// record notes a write for the replay and counts it.
func (c *compiler) record(w stagedWrite) {
	w.ns = c.ns
	if !c.direct {
		c.log = append(c.log, w)
	}
}

// redeclared reports whether kind/name was already declared in this run
// (in the current namespace), and remembers pos otherwise.
func (c *compiler) redeclared(kind, name string, pos Pos) (Pos, bool) {
	key := cim.FoldName(c.ns) + "\x00" + kind + "\x00" + cim.FoldName(name)
	if prev, ok := c.declared[key]; ok {
		return prev, true
	}
	c.declared[key] = pos
	return Pos{}, false
}

// replay writes the staged declarations into the Target: first the
// namespaces (so that --namespace creates its namespace even for a file
// that declares nothing in it), then every write in source order.
func (c *compiler) replay() error {
	for _, n := range c.namespaces {
		if err := c.Target.EnsureNamespace(n.name); err != nil {
			return ErrorList{{Pos: n.pos, Msg: "namespace " + n.name + ": " + errText(err), Err: err}}
		}
	}
	var errs ErrorList
	for i, w := range c.log {
		if c.Progress != nil && (i%64 == 0 || i == len(c.log)-1) {
			c.Progress("write", i+1, len(c.log))
		}
		var err error
		var what string
		switch {
		case w.qt != nil:
			what = "qualifier " + w.qt.Name
			err = c.Target.SetQualifierType(w.ns, w.qt)
		case w.class != nil:
			what = "class " + w.class.Name
			err = c.Target.PutClass(w.ns, w.class)
		case w.inst != nil:
			what = "instance " + w.inst.Path.String()
			err = c.Target.PutInstance(w.ns, w.inst)
		}
		if err != nil {
			errs = append(errs, &Error{Pos: w.pos, Msg: what + ": " + errText(err), Err: err})
			// Later writes may depend on this one; stop rather than
			// report a cascade.
			break
		}
	}
	return errs.Err()
}

// class looks a class up in namespace ns, reporting read errors at pos.
func (c *compiler) classIn(pos Pos, ns, name string) *cim.Class {
	cls, err := c.stage.Class(ns, name)
	if err != nil {
		c.targetErr(pos, "reading class "+name, err)
		return nil
	}
	return cls
}

// class looks a class up in the current namespace; read errors are
// returned rather than reported.
func (c *compiler) class(name string) (*cim.Class, error) {
	return c.stage.Class(c.ns, name)
}

// qualifierType returns a declaration of the current namespace, reporting
// read errors at pos.
func (c *compiler) qualifierType(pos Pos, name string) *cim.QualifierType {
	qt, err := c.stage.QualifierType(c.ns, name)
	if err != nil {
		c.targetErr(pos, "reading qualifier "+name, err)
		return nil
	}
	return qt
}

// laterDecl says where a class missing at pos is declared further on, as a
// hint for an ordering mistake.
func (c *compiler) laterDecl(name string) string {
	if p, ok := c.classDecls[cim.FoldName(name)]; ok {
		return fmt.Sprintf(" (it is declared later, at %s; declare it first)", p)
	}
	return ""
}

// checkEmbedded verifies, once every class is known, that the classes
// named by EmbeddedInstance qualifiers exist.
func (c *compiler) checkEmbedded() {
	for _, e := range c.embeddedChecks {
		cls, err := c.stage.Class(e.ns, e.className)
		if err != nil {
			c.targetErr(e.pos, "reading class "+e.className, err)
			continue
		}
		if cls == nil {
			c.errorf(e.pos, "%s: EmbeddedInstance names class %s, which is not declared", e.what, e.className)
		}
	}
}

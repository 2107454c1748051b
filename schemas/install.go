package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hypercim/hypercim/mof"
)

// Target is where Install compiles: a mof.Target that also keeps small
// markers with the definitions, so that Install knows what is installed.
// The repository's BulkWriter is one; its markers are written in the same
// transaction as the definitions.
type Target interface {
	mof.Target
	// Meta returns the marker key ("" if unset).
	Meta(key string) (string, error)
	// SetMeta sets the marker key.
	SetMeta(key, value string) error
}

// InstallOptions tune Install.
type InstallOptions struct {
	// DMTFSchema, when set, names a complete DMTF CIM Schema release: its
	// directory (holding one cim_schema_<version>.mof) or that root file.
	// Its classes then replace the DMTF classes embedded in hypercim, and
	// each namespace's Overlay files are compiled on top of it.
	DMTFSchema string
	// Force compiles even when the markers say the same schemas are
	// installed already.
	Force bool
	// Progress, when set, is called as work advances: the namespace, then
	// the phase, done and total as mof.Compiler.Progress gives them.
	Progress func(ns, phase string, done, total int)
}

// InstallResult says what Install did.
type InstallResult struct {
	// Version identifies the schemas: a digest of the MOF compiled (the
	// embedded files, and the DMTF schema files if one was given).
	Version string
	// Namespaces lists hypercim's namespaces in compile order.
	Namespaces []InstalledNamespace
}

// InstalledNamespace is what Install did for one namespace.
type InstalledNamespace struct {
	Name string
	// Skipped is set when the namespace already held this Version.
	Skipped bool
	// QualifierTypes, Classes and Instances count the declarations
	// compiled (including those already present, unchanged).
	QualifierTypes, Classes, Instances int
}

// markerPrefix names the markers Install keeps, one per namespace.
const markerPrefix = "hypercim.schemas:"

// Install compiles hypercim's schemas into their namespaces (see
// Namespaces): on a new repository it creates root/interop and root/virt
// with their qualifier declarations and classes; on one that holds them
// already it returns at once. It is meant to run at every server start.
//
// A marker per namespace records the Version installed, written with the
// namespace's definitions; a start after an upgrade (another Version)
// compiles again, which changes what differs and leaves the rest, so an
// interrupted install is simply completed by the next one. Install does
// not commit: the caller commits the Target (BulkWriter.Commit) when
// Install returns nil, and rolls it back otherwise.
func Install(t Target, opts InstallOptions) (*InstallResult, error) {
	var dmtfRoot string
	if opts.DMTFSchema != "" {
		var err error
		if dmtfRoot, err = dmtfRootFile(opts.DMTFSchema); err != nil {
			return nil, err
		}
	}
	version, err := schemaVersion(dmtfRoot)
	if err != nil {
		return nil, err
	}
	res := &InstallResult{Version: version}
	for _, ns := range Namespaces() {
		done := InstalledNamespace{Name: ns.Name}
		marker := markerPrefix + ns.Name
		have, err := t.Meta(marker)
		if err != nil {
			return nil, fmt.Errorf("reading the schema marker of %s: %w", ns.Name, err)
		}
		if have == version && !opts.Force {
			done.Skipped = true
			res.Namespaces = append(res.Namespaces, done)
			continue
		}
		var steps []compileStep
		if dmtfRoot == "" {
			steps = []compileStep{{loader: embeddedLoader(), files: []string{ns.Root}}}
		} else {
			steps = []compileStep{
				{loader: mof.Loader{}, files: []string{dmtfRoot}},
				{loader: embeddedLoader(), files: ns.Overlay},
			}
		}
		for _, step := range steps {
			c := &mof.Compiler{Target: t, Namespace: ns.Name, Loader: step.loader}
			if opts.Progress != nil {
				name := ns.Name
				c.Progress = func(phase string, d, total int) { opts.Progress(name, phase, d, total) }
			}
			r, err := c.CompileFiles(step.files...)
			if err != nil {
				return nil, fmt.Errorf("installing the schemas of %s (%s): %w", ns.Name, strings.Join(step.files, ", "), err)
			}
			done.QualifierTypes += r.QualifierTypes
			done.Classes += r.Classes
			done.Instances += r.Instances
		}
		if err := t.SetMeta(marker, version); err != nil {
			return nil, fmt.Errorf("writing the schema marker of %s: %w", ns.Name, err)
		}
		res.Namespaces = append(res.Namespaces, done)
	}
	return res, nil
}

type compileStep struct {
	loader mof.Loader
	files  []string
}

// embeddedLoader reads MOF from the embedded tree.
func embeddedLoader() mof.Loader {
	files := Files()
	return mof.Loader{ReadFile: func(name string) ([]byte, error) { return fs.ReadFile(files, filepath.ToSlash(name)) }}
}

// dmtfRootFile finds the root file of a DMTF schema release: the path
// itself if it is a file, else the one cim_schema_*.mof in the directory.
func dmtfRootFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("DMTF schema: %w", err)
	}
	if !fi.IsDir() {
		return path, nil
	}
	matches, err := filepath.Glob(filepath.Join(path, "cim_schema_*.mof"))
	if err != nil {
		return "", fmt.Errorf("DMTF schema: %w", err)
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("DMTF schema: %s holds no cim_schema_<version>.mof; give the directory of a DMTF CIM Schema release (such as dmtf-cim-2.49) or its root file", path)
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("DMTF schema: %s holds several root files (%s); name the one to use", path, strings.Join(matches, ", "))
}

// schemaVersion digests the embedded MOF and, when given, every .mof
// file of the DMTF schema's directory.
func schemaVersion(dmtfRoot string) (string, error) {
	h := sha256.New()
	if err := digestTree(h, Files(), "embedded"); err != nil {
		return "", err
	}
	if dmtfRoot != "" {
		dir := filepath.Dir(dmtfRoot)
		io.WriteString(h, "dmtf:"+filepath.Base(dmtfRoot)+"\x00")
		if err := digestTree(h, os.DirFS(dir), dir); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// digestTree writes the names and contents of the .mof files of fsys,
// in a fixed order, into h.
func digestTree(h hash.Hash, fsys fs.FS, what string) error {
	var names []string
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(name), ".mof") {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the MOF files of %s: %w", what, err)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	return nil
}

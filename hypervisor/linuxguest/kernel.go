package linuxguest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// fetchScript is the script, relative to the repository root, that
// downloads and unpacks the kernel package.
const fetchScript = "scripts/guest-kernel.sh"

// Kernel is an unpacked Debian kernel package.
type Kernel struct {
	// Version is the kernel release, e.g. "6.1.0-56-cloud-amd64".
	Version string
	// Image is the bzImage, <root>/boot/vmlinuz-<Version>.
	Image string
	// ModulesDir is <root>/lib/modules/<Version>.
	ModulesDir string
}

// FetchKernel returns Debian's cloud kernel, running scripts/guest-kernel.sh
// of the repository this package was built from. The first call
// in a clone downloads the package (about 27 MB); later calls only read the
// cache.
func FetchKernel(ctx context.Context) (*Kernel, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, fetchScript))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("linuxguest: %s: %w: %s", fetchScript, err, strings.TrimSpace(stderr.String()))
	}
	return OpenKernel(strings.TrimSpace(string(out)))
}

// OpenKernel returns the kernel unpacked (dpkg -x) into dir, which must hold
// exactly one boot/vmlinuz-* with its lib/modules directory.
func OpenKernel(dir string) (*Kernel, error) {
	images, err := filepath.Glob(filepath.Join(dir, "boot", "vmlinuz-*"))
	if err != nil {
		return nil, fmt.Errorf("linuxguest: %w", err)
	}
	if len(images) != 1 {
		return nil, fmt.Errorf("linuxguest: %s holds %d boot/vmlinuz-* files, want 1", dir, len(images))
	}
	version := strings.TrimPrefix(filepath.Base(images[0]), "vmlinuz-")
	k := &Kernel{Version: version, Image: images[0], ModulesDir: filepath.Join(dir, "lib", "modules", version)}
	if _, err := os.Stat(k.ModulesDir); err != nil {
		return nil, fmt.Errorf("linuxguest: kernel %s has no modules: %w", version, err)
	}
	return k, nil
}

// repoRoot finds the repository holding the fetch script: the one this
// package's source is in (the test binaries that use it are always built
// from a checkout), else the one containing the working directory.
func repoRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(root, fetchScript)); err == nil {
			return filepath.Clean(root), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("linuxguest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, fetchScript)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("linuxguest: no %s above the working directory", fetchScript)
		}
		dir = parent
	}
}

// Module is one loadable kernel module.
type Module struct {
	Name string // as the kernel knows it: underscores, no suffix
	Path string // the .ko file
}

// ResolveModules returns the modules named (hyphens and underscores are
// equivalent, as for modprobe) together with everything they depend on,
// ordered so that each module follows its dependencies. Dependencies come
// from each module's own .modinfo section, because the package ships no
// modules.dep (depmod runs at install time). Modules built into the kernel
// are skipped.
func (k *Kernel) ResolveModules(names ...string) ([]Module, error) {
	index, err := k.moduleIndex()
	if err != nil {
		return nil, err
	}
	builtin, err := k.builtinModules()
	if err != nil {
		return nil, err
	}
	var order []Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name, wantedBy string) error
	visit = func(name, wantedBy string) error {
		name = moduleName(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("linuxguest: module dependency cycle through %s", name)
		case 2:
			return nil
		}
		path, ok := index[name]
		if !ok {
			if builtin[name] {
				state[name] = 2
				return nil
			}
			if wantedBy != "" {
				return fmt.Errorf("linuxguest: module %s (needed by %s) is not in kernel %s", name, wantedBy, k.Version)
			}
			return fmt.Errorf("linuxguest: module %s is not in kernel %s", name, k.Version)
		}
		state[name] = 1
		deps, err := moduleDepends(path)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, Module{Name: name, Path: path})
		return nil
	}
	for _, n := range names {
		if err := visit(n, ""); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// moduleName normalises a module name the way modprobe does.
func moduleName(s string) string {
	s = strings.TrimSuffix(filepath.Base(s), ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// moduleIndex maps module names to their .ko files.
func (k *Kernel) moduleIndex() (map[string]string, error) {
	index := map[string]string{}
	var compressed []string
	err := filepath.WalkDir(filepath.Join(k.ModulesDir, "kernel"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".ko"):
			index[moduleName(path)] = path
		case strings.Contains(filepath.Base(path), ".ko."):
			compressed = append(compressed, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("linuxguest: indexing modules: %w", err)
	}
	if len(index) == 0 && len(compressed) > 0 {
		return nil, fmt.Errorf("linuxguest: kernel %s ships compressed modules (%s), which busybox insmod cannot load", k.Version, filepath.Base(compressed[0]))
	}
	return index, nil
}

// builtinModules reads modules.builtin: modules compiled into the image.
func (k *Kernel) builtinModules() (map[string]bool, error) {
	f, err := os.Open(filepath.Join(k.ModulesDir, "modules.builtin"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("linuxguest: %w", err)
	}
	defer f.Close()
	builtin := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			builtin[moduleName(line)] = true
		}
	}
	return builtin, sc.Err()
}

// moduleDepends reads the "depends=" entry of a module's .modinfo section.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("linuxguest: module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("linuxguest: module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("linuxguest: module %s: %w", path, err)
	}
	for _, entry := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(entry, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}

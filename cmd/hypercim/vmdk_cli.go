package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// vmdkFlags is a flag set for one vmdk subcommand whose flags may come
// before, between or after the positional arguments.
type vmdkFlags struct {
	*flag.FlagSet
	name, usage string
	env         *cliEnv
}

func newVMDKFlags(env *cliEnv, name, usage string) *vmdkFlags {
	fs := flag.NewFlagSet("hypercim vmdk "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &vmdkFlags{FlagSet: fs, name: name, usage: usage, env: env}
}

// errVMDKHelp ends a subcommand successfully after --help.
var errVMDKHelp = errors.New("help shown")

// parse returns the positional arguments (flags may stand among them),
// checking their count.
func (f *vmdkFlags) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	pos, err := parseCommandArgs(f.env, f.FlagSet, f, errVMDKHelp, args)
	if err != nil {
		return nil, err
	}
	if len(pos) < minArgs || len(pos) > maxArgs {
		return nil, f.usageError("expected %s", f.usage)
	}
	return pos, nil
}

func (f *vmdkFlags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: hypercim vmdk %s %s\n", f.name, f.usage)
	if opts := flagDefaults(f.FlagSet); opts != "" {
		fmt.Fprintf(w, "\noptions:\n%s", opts)
	}
}

// usageError is exit status 2 with a one-line message.
func (f *vmdkFlags) usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf("hypercim vmdk %s: %s (see 'hypercim vmdk %s --help')", f.name, fmt.Sprintf(format, args...), f.name)}
}

// vmdkFail is exit status 1 with a one-line message naming the command.
func vmdkFail(name string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	return &exitError{code: 1, msg: fmt.Sprintf("hypercim vmdk %s: %s", name, msg)}
}

// parseVMDKSize reads sizes like 64M, 1G, 1.5GiB, 512, 10T (binary units).
func parseVMDKSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	u := strings.ToUpper(t)
	mult := int64(1)
	for _, unit := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"PIB", 1 << 50},
		{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"PB", 1 << 50},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"P", 1 << 50}, {"B", 1}} {
		if strings.HasSuffix(u, unit.suffix) {
			u, mult = strings.TrimSpace(strings.TrimSuffix(u, unit.suffix)), unit.mult
			break
		}
	}
	if n, err := strconv.ParseInt(u, 10, 64); err == nil {
		if n < 0 || (mult > 1 && n > (1<<62)/mult) {
			return 0, fmt.Errorf("size %q is out of range", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q is not a number with an optional K, M, G, T or P suffix", s)
	}
	return int64(f * float64(mult)), nil
}

// formatVMDKSize renders bytes with a binary unit, like qemu-img.
func formatVMDKSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.3g %s", f, units[i])
}

// vmdkIsTerminal reports whether w is a terminal (progress bars go there).
func vmdkIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

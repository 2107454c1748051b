package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hypercim/hypercim/vmdk"
)

// vmdkCommands is the table of the vmdk subcommands.
func vmdkCommands() *commandTable {
	return &commandTable{
		name:      "hypercim vmdk",
		synopsis:  "hypercim vmdk <subcommand> [options] [arguments]",
		heading:   "subcommands",
		width:     9,
		footer:    "\nRun 'hypercim vmdk <subcommand> --help' for its options. Sizes take K, M, G, T suffixes (powers of 1024).\n",
		helpShown: errVMDKHelp,
		cmds: map[string]subcommand{
			"create":   {"create an empty image or a delta", runVMDKCreate},
			"info":     {"describe an image (--json for JSON)", runVMDKInfo},
			"check":    {"check an image; --repair fixes it (exit 0 clean, 1 problems, 2 could not check)", runVMDKCheck},
			"convert":  {"copy between raw, qcow2 (read) and every writable VMDK variant", runVMDKConvert},
			"resize":   {"grow an image", runVMDKResize},
			"snapshot": {"create a delta (child) of an image", runVMDKSnapshot},
			"commit":   {"write a delta into its parent", runVMDKCommit},
			"rebase":   {"move a delta onto another parent", runVMDKRebase},
			"map":      {"list allocated and zero ranges", runVMDKMap},
			"bench":    {"measure write, read and convert speed against raw and qemu-img", runVMDKBench},
		},
	}
}

// runVMDK dispatches "hypercim vmdk SUBCOMMAND ...". Every failure is one
// line on stderr and a non-zero exit; a panic is reported the same way.
func runVMDK(env *cliEnv, args []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &exitError{code: 70, msg: fmt.Sprintf("hypercim vmdk: internal error: %v (please report this)", r)}
		}
	}()
	return vmdkCommands().dispatch(env, args)
}

func runVMDKCreate(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "create", "[options] --size SIZE FILE.vmdk")
	sub := f.String("subformat", string(vmdk.MonolithicSparse), "createType: monolithicSparse, monolithicFlat, twoGbMaxExtentSparse, twoGbMaxExtentFlat or streamOptimized")
	size := f.String("size", "", "virtual size, e.g. 64M or 20G (a delta defaults to its parent's size)")
	adapter := f.String("adapter", "", "ddb.adapterType: ide, buslogic, lsilogic or legacyESX (default ide; lsilogic for streamOptimized)")
	hw := f.Int("hw-version", 0, "ddb.virtualHWVersion (default 4)")
	grain := f.String("grain-size", "64K", "grain size of sparse extents, 4K to 1M")
	zeroed := f.Bool("zeroed-grain", false, "version-2 sparse header with zeroed-grain entries")
	parent := f.String("parent", "", "make the new image a delta of this image")
	overwrite := f.Bool("overwrite", false, "replace existing files")
	outside := f.Bool("allow-outside-paths", false, "allow a parent outside the image's directory")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	opts := vmdk.CreateOptions{Subformat: vmdk.Subformat(*sub), Adapter: vmdk.Adapter(*adapter), HWVersion: *hw,
		ZeroedGrain: *zeroed, Parent: *parent, Overwrite: *overwrite, AllowOutsidePaths: *outside}
	if *size != "" {
		if opts.Size, err = parseVMDKSize(*size); err != nil {
			return f.usageError("--size: %v", err)
		}
	} else if *parent == "" {
		return f.usageError("--size is required")
	}
	if opts.GrainSize, err = parseVMDKSize(*grain); err != nil {
		return f.usageError("--grain-size: %v", err)
	}
	if err := vmdk.Create(pos[0], opts); err != nil {
		return vmdkFail("create", err)
	}
	return nil
}

func runVMDKInfo(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "info", "[--json] FILE")
	asJSON := f.Bool("json", false, "print JSON")
	outside := f.Bool("allow-outside-paths", false, "allow extents and parents outside the descriptor's directory")
	format := f.String("format", "", "force the format: vmdk, raw or qcow2 (default: from content)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	in, err := vmdk.Inspect(pos[0], vmdk.OpenOptions{AllowOutsidePaths: *outside, Format: vmdk.Format(*format)})
	if err != nil {
		return vmdkFail("info", err)
	}
	if *asJSON {
		return vmdkJSON(env.stdout, in)
	}
	w := env.stdout
	fmt.Fprintf(w, "image: %s\n", in.Path)
	fmt.Fprintf(w, "file format: %s\n", in.Format)
	if in.Subformat != "" {
		fmt.Fprintf(w, "subformat: %s\n", in.Subformat)
	}
	fmt.Fprintf(w, "virtual size: %s (%d bytes)\n", formatVMDKSize(in.VirtualSize), in.VirtualSize)
	fmt.Fprintf(w, "disk size: %s\n", formatVMDKSize(in.ActualSize))
	if in.CID != "" {
		fmt.Fprintf(w, "cid: %s\n", in.CID)
	}
	if in.ParentHint != "" {
		fmt.Fprintf(w, "parent: %s (parentCID %s)\n", in.ParentHint, in.ParentCID)
	}
	if in.CIDMismatch {
		fmt.Fprintln(w, "warning: the parent changed after this delta was made (CID mismatch); 'hypercim vmdk check --repair' relinks it")
	}
	for i, p := range in.Chain {
		fmt.Fprintf(w, "backing chain[%d]: %s\n", i+1, p)
	}
	if in.Adapter != "" {
		fmt.Fprintf(w, "adapter type: %s\n", in.Adapter)
	}
	if in.HWVersion != 0 {
		fmt.Fprintf(w, "hardware version: %d\n", in.HWVersion)
	}
	if in.Geometry != nil {
		fmt.Fprintf(w, "geometry (c/h/s): %d/%d/%d\n", in.Geometry.Cylinders, in.Geometry.Heads, in.Geometry.Sectors)
	}
	if in.UUID != "" {
		fmt.Fprintf(w, "uuid: %s\n", in.UUID)
	}
	if in.Format == vmdk.FormatVMDK {
		fmt.Fprintf(w, "unclean shutdown: %v\n", in.Unclean)
	}
	if len(in.Extents) > 0 {
		fmt.Fprintln(w, "extents:")
	}
	for i, e := range in.Extents {
		var attrs []string
		if e.Version != 0 {
			attrs = append(attrs, fmt.Sprintf("version %d", e.Version))
		}
		if e.GrainSize != 0 {
			attrs = append(attrs, "grain "+formatVMDKSize(e.GrainSize))
		}
		for _, a := range []struct {
			on   bool
			text string
		}{{e.Compressed, "compressed"}, {e.DirectoryAtEnd, "directory at end"}, {e.Redundant, "redundant directory"},
			{e.ZeroedGrain, "zeroed grains"}, {e.Unclean, "unclean"}} {
			if a.on {
				attrs = append(attrs, a.text)
			}
		}
		fmt.Fprintf(w, "  [%d] %s %s %s %s", i, e.Access, e.Type, formatVMDKSize(e.Size), e.File)
		if len(attrs) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(attrs, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}

func vmdkJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runVMDKCheck(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "check", "[--repair] [--json] FILE")
	repair := f.Bool("repair", false, "fix the problems found")
	asJSON := f.Bool("json", false, "print JSON")
	outside := f.Bool("allow-outside-paths", false, "allow extents and parents outside the descriptor's directory")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	res, err := vmdk.Check(pos[0], vmdk.CheckOptions{Repair: *repair, AllowOutsidePaths: *outside})
	if err != nil {
		return &exitError{code: 2, msg: "hypercim vmdk check: could not check: " + strings.ReplaceAll(err.Error(), "\n", " ")}
	}
	if *asJSON {
		out := struct {
			*vmdk.CheckResult
			Clean bool `json:"clean"`
		}{res, res.Clean()}
		if err := vmdkJSON(env.stdout, out); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintln(env.stdout, p.String())
		}
		switch {
		case len(res.Problems) == 0:
			fmt.Fprintln(env.stdout, "No errors were found on the image.")
		case res.Clean():
			fmt.Fprintf(env.stdout, "%d problems were found and repaired.\n", len(res.Problems))
		default:
			fmt.Fprintf(env.stdout, "%d problems were found; run 'hypercim vmdk check --repair %s' to fix them.\n", len(res.Problems), pos[0])
		}
	}
	if !res.Clean() {
		return &exitError{code: 1}
	}
	return nil
}

func runVMDKMap(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "map", "[--json] FILE")
	asJSON := f.Bool("json", false, "print JSON (one object per run)")
	outside := f.Bool("allow-outside-paths", false, "allow extents and parents outside the descriptor's directory")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	d, err := vmdk.Open(pos[0], vmdk.OpenOptions{ReadOnly: true, AllowOutsidePaths: *outside})
	if err != nil {
		return vmdkFail("map", err)
	}
	defer d.Close()
	var entries []vmdk.MapEntry
	if !*asJSON {
		fmt.Fprintf(env.stdout, "%-18s %-18s %-6s %-6s %s\n", "Offset", "Length", "Data", "Depth", "File (offset)")
	}
	err = d.Map(0, d.Size(), func(m vmdk.MapEntry) error {
		if *asJSON {
			entries = append(entries, m)
			return nil
		}
		where := ""
		switch {
		case m.File != "":
			where = fmt.Sprintf("%s (%#x)", m.File, m.FileOffset)
		case m.Compressed:
			where = "compressed"
		case m.Zero:
			where = "zero"
		}
		_, err := fmt.Fprintf(env.stdout, "%#-18x %#-18x %-6v %-6d %s\n", m.Offset, m.Length, m.Data, m.Depth, where)
		return err
	})
	if err != nil {
		return vmdkFail("map", err)
	}
	if *asJSON {
		if entries == nil {
			entries = []vmdk.MapEntry{}
		}
		return vmdkJSON(env.stdout, entries)
	}
	return nil
}

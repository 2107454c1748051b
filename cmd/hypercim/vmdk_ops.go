package main

import (
	"strings"

	"github.com/hypercim/hypercim/vmdk"
)

// vmdkProgressFlags adds --progress/--no-progress; the default is a bar
// when stdout is a terminal.
func vmdkProgressFlags(f *vmdkFlags) func(label string) *vmdkProgress {
	on := f.Bool("progress", false, "show a progress bar even when stdout is not a terminal")
	off := f.Bool("no-progress", false, "never show a progress bar")
	return func(label string) *vmdkProgress {
		return newVMDKProgress(f.env.stdout, label, !*off && (*on || vmdkIsTerminal(f.env.stdout)))
	}
}

func runVMDKConvert(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "convert", "[options] SRC DST")
	sub := f.String("subformat", "", "createType of a new VMDK destination (default monolithicSparse)")
	srcFmt := f.String("src-format", "", "force the source format: vmdk, raw or qcow2")
	dstFmt := f.String("format", "", "force the destination format: vmdk or raw (default: content, or .vmdk extension = vmdk, else raw)")
	adapter := f.String("adapter", "", "ddb.adapterType of a new VMDK destination")
	overwrite := f.Bool("overwrite", false, "replace an existing destination instead of writing into it")
	outside := f.Bool("allow-outside-paths", false, "allow extents and parents outside the descriptor's directory")
	compression := f.String("compression", string(vmdk.CompressionDefault),
		"deflate effort for a streamOptimized destination: default (zlib level 7: about qemu-img's output size, several times faster), fast (level 1: a quarter more output), best (level 9: smallest, slow) or a level 1-9")
	bar := vmdkProgressFlags(f)
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	if _, err := vmdk.Compression(*compression).Level(); err != nil {
		return f.usageError("--compression %q: want default, fast, best or a zlib level 1 to 9", *compression)
	}
	dst := vmdk.Format(*dstFmt)
	if *sub != "" && dst == vmdk.FormatAuto && !strings.HasSuffix(strings.ToLower(pos[1]), ".vmdk") {
		dst = vmdk.FormatVMDK // a subformat implies VMDK output
	}
	p := bar("convert")
	err = vmdk.Convert(pos[0], pos[1], vmdk.ConvertOptions{SrcFormat: vmdk.Format(*srcFmt), DstFormat: dst,
		Subformat: vmdk.Subformat(*sub), Adapter: vmdk.Adapter(*adapter), Overwrite: *overwrite,
		AllowOutsidePaths: *outside, Compression: vmdk.Compression(*compression), Progress: p.fn()})
	p.done()
	if err != nil {
		return vmdkFail("convert", err)
	}
	return nil
}

func runVMDKResize(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "resize", "FILE [+]SIZE")
	outside := f.Bool("allow-outside-paths", false, "allow extents outside the descriptor's directory")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	grow := strings.HasPrefix(pos[1], "+")
	size, err := parseVMDKSize(strings.TrimPrefix(pos[1], "+"))
	if err != nil {
		return f.usageError("%v", err)
	}
	if grow {
		in, err := vmdk.Inspect(pos[0], vmdk.OpenOptions{AllowOutsidePaths: *outside})
		if err != nil {
			return vmdkFail("resize", err)
		}
		size += in.VirtualSize
	}
	if err := vmdk.Resize(pos[0], size, vmdk.ResizeOptions{AllowOutsidePaths: *outside}); err != nil {
		return vmdkFail("resize", err)
	}
	return nil
}

func runVMDKSnapshot(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "snapshot", "[options] PARENT CHILD")
	sub := f.String("subformat", string(vmdk.MonolithicSparse), "createType of the child: monolithicSparse or twoGbMaxExtentSparse")
	zeroed := f.Bool("zeroed-grain", false, "version-2 header with zeroed-grain entries")
	overwrite := f.Bool("overwrite", false, "replace an existing CHILD (its data is lost)")
	outside := f.Bool("allow-outside-paths", false, "allow a parent outside the child's directory")
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	err = vmdk.Snapshot(pos[0], pos[1], vmdk.CreateOptions{Subformat: vmdk.Subformat(*sub), ZeroedGrain: *zeroed,
		Overwrite: *overwrite, AllowOutsidePaths: *outside})
	if err != nil {
		return vmdkFail("snapshot", err)
	}
	return nil
}

func runVMDKCommit(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "commit", "[--remove-child] CHILD")
	remove := f.Bool("remove-child", false, "delete the child after committing it")
	outside := f.Bool("allow-outside-paths", false, "allow parents outside the child's directory")
	bar := vmdkProgressFlags(f)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	p := bar("commit")
	err = vmdk.Commit(pos[0], vmdk.CommitOptions{RemoveChild: *remove, AllowOutsidePaths: *outside, Progress: p.fn()})
	p.done()
	if err != nil {
		return vmdkFail("commit", err)
	}
	return nil
}

func runVMDKRebase(env *cliEnv, args []string) error {
	f := newVMDKFlags(env, "rebase", "[--unsafe] CHILD NEW-PARENT (\"\" for none)")
	unsafe := f.Bool("unsafe", false, "only rewrite the link; the new parent must hold the same data")
	outside := f.Bool("allow-outside-paths", false, "allow parents outside the child's directory")
	bar := vmdkProgressFlags(f)
	pos, err := f.parse(args, 2, 2)
	if err != nil {
		return err
	}
	p := bar("rebase")
	err = vmdk.Rebase(pos[0], pos[1], vmdk.RebaseOptions{Unsafe: *unsafe, AllowOutsidePaths: *outside, Progress: p.fn()})
	p.done()
	if err != nil {
		return vmdkFail("rebase", err)
	}
	return nil
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runVMDKCLI runs "hypercim ARGS" in-process and returns exit code and output.
func runVMDKCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func vmdkNeedQemu(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("qemu-img missing; scripts/install-deps.sh installs qemu-utils")
		}
		t.Skip("qemu-img not installed")
	}
}

// vmdkOneLineError asserts a failure printed exactly one line, naming what.
func vmdkOneLineError(t *testing.T, code, want int, stderr, mention string) {
	t.Helper()
	if code != want {
		t.Fatalf("exit %d, want %d (stderr %q)", code, want, stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(stderr, mention) || strings.Contains(stderr, "goroutine") {
		t.Fatalf("error output %q: want one line mentioning %q", stderr, mention)
	}
}

func TestVMDKCreateCheckInfo(t *testing.T) {
	vmdkNeedQemu(t)
	dir := t.TempDir()
	for _, sub := range []string{"monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse", "twoGbMaxExtentFlat", "streamOptimized"} {
		p := filepath.Join(dir, sub+".vmdk")
		if code, _, errs := runVMDKCLI(t, "vmdk", "create", "--subformat", sub, "--size", "64M", p); code != 0 {
			t.Fatalf("create %s: %d %s", sub, code, errs)
		}
		if out, err := exec.Command("qemu-img", "check", p).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img check %s: %v %s", sub, err, out)
		}
		code, out, _ := runVMDKCLI(t, "vmdk", "info", "--json", p)
		var info struct {
			Format      string `json:"format"`
			Subformat   string `json:"subformat"`
			VirtualSize int64  `json:"virtual_size"`
			Adapter     string `json:"adapter_type"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Subformat != sub || info.VirtualSize != 64<<20 || info.Format != "vmdk" {
			t.Fatalf("info --json %s: %d %s", sub, code, out)
		}
		code, out, _ = runVMDKCLI(t, "vmdk", "check", p)
		if code != 0 || !strings.Contains(out, "No errors") {
			t.Fatalf("check %s: %d %s", sub, code, out)
		}
		if code, out, _ = runVMDKCLI(t, "vmdk", "info", p); code != 0 || !strings.Contains(out, "virtual size: 64 MiB") {
			t.Fatalf("info %s: %s", sub, out)
		}
	}
	// Flags after the file work too, and adapter/hw-version land in the DDB.
	p := filepath.Join(dir, "opts.vmdk")
	if code, _, errs := runVMDKCLI(t, "vmdk", "create", p, "--size", "1G", "--adapter", "lsilogic", "--hw-version", "11"); code != 0 {
		t.Fatal(errs)
	}
	_, out, _ := runVMDKCLI(t, "vmdk", "info", p)
	if !strings.Contains(out, "adapter type: lsilogic") || !strings.Contains(out, "hardware version: 11") {
		t.Fatalf("info: %s", out)
	}
}

func TestVMDKErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.vmdk")
	runVMDKCLI(t, "vmdk", "create", "--size", "1M", p)
	cases := []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"vmdk", "create", p}, 2, "--size is required"},
		{[]string{"vmdk", "create", "--size", "1M", p}, 1, p},
		{[]string{"vmdk", "create", "--size", "lots", filepath.Join(dir, "b.vmdk")}, 2, "lots"},
		{[]string{"vmdk", "create", "--size", "1M", "--subformat", "vmfs", filepath.Join(dir, "b.vmdk")}, 1, "vmfs"},
		{[]string{"vmdk", "create", "--size", "1M", "--adapter", "IDE", filepath.Join(dir, "b.vmdk")}, 1, "IDE"},
		{[]string{"vmdk", "info", filepath.Join(dir, "missing.vmdk")}, 1, "missing.vmdk"},
		{[]string{"vmdk", "check", filepath.Join(dir, "missing.vmdk")}, 2, "missing.vmdk"},
		{[]string{"vmdk", "convert", p}, 2, "SRC DST"},
		{[]string{"vmdk", "convert", filepath.Join(dir, "nope.raw"), filepath.Join(dir, "x.vmdk")}, 1, "nope.raw"},
		{[]string{"vmdk", "commit", p}, 1, "no parent"},
		{[]string{"vmdk", "resize", p, "1K"}, 1, "shrinking"},
		{[]string{"vmdk", "frobnicate"}, 2, "frobnicate"},
		{[]string{"vmdk", "info", "--bogus", p}, 2, "bogus"},
	}
	for _, c := range cases {
		code, _, errs := runVMDKCLI(t, c.args...)
		vmdkOneLineError(t, code, c.code, errs, c.mention)
	}
	// A descriptor that escapes its directory, and a corrupt header.
	evil := filepath.Join(dir, "evil.vmdk")
	os.WriteFile(evil, []byte("# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\nRW 8 FLAT \"../../etc/passwd\" 0\n"), 0o644)
	code, _, errs := runVMDKCLI(t, "vmdk", "info", evil)
	vmdkOneLineError(t, code, 1, errs, "escapes")
	bad := filepath.Join(dir, "bad.vmdk")
	b, _ := os.ReadFile(p)
	copy(b[0x14:], []byte{3, 0, 0, 0, 0, 0, 0, 0}) // grain size 3
	os.WriteFile(bad, b, 0o644)
	code, _, errs = runVMDKCLI(t, "vmdk", "check", bad)
	vmdkOneLineError(t, code, 2, errs, "grain size")
	code, _, errs = runVMDKCLI(t, "vmdk", "convert", bad, filepath.Join(dir, "o.raw"))
	vmdkOneLineError(t, code, 1, errs, "grain size")
}

// TestVMDKErrorsAgree: the commands say the same about the same file,
// in plain words, and snapshot has the --overwrite its message names
// but never replaces a file of the chain it would read.
func TestVMDKErrorsAgree(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"KDMV", "4 bytes is too short for a sparse header (512 bytes)"},
		{"COWD", "4 bytes is too short for a vmfsSparse (COWD) header (2048 bytes)"},
		{"QFI\xfb", "4 bytes is too short for a qcow2 header (72 bytes)"},
	} {
		p := filepath.Join(dir, "short.vmdk")
		os.WriteFile(p, []byte(tc.content), 0o644)
		for _, cmd := range [][]string{{"info", p}, {"check", p}, {"map", p}, {"convert", p, filepath.Join(dir, "o.raw")}, {"snapshot", p, filepath.Join(dir, "c.vmdk")}} {
			code, _, errs := runVMDKCLI(t, append([]string{"vmdk"}, cmd...)...)
			if code == 0 || !strings.Contains(errs, tc.want) {
				t.Errorf("%q: %s: exit %d: %s", tc.content, cmd[0], code, errs)
			}
		}
	}

	base := filepath.Join(dir, "base.vmdk")
	child := filepath.Join(dir, "child.vmdk")
	grandchild := filepath.Join(dir, "grandchild.vmdk")
	for _, args := range [][]string{{"create", "--size", "1M", base}, {"snapshot", base, child}, {"snapshot", child, grandchild}} {
		if code, _, errs := runVMDKCLI(t, append([]string{"vmdk"}, args...)...); code != 0 {
			t.Fatal(errs)
		}
	}
	code, _, errs := runVMDKCLI(t, "vmdk", "snapshot", base, grandchild)
	vmdkOneLineError(t, code, 1, errs, "pass --overwrite")
	if code, _, errs := runVMDKCLI(t, "vmdk", "snapshot", "--overwrite", base, grandchild); code != 0 {
		t.Fatalf("snapshot --overwrite: %s", errs)
	}
	// A file the new delta would read from is never replaced.
	for _, target := range []string{base, child} {
		code, _, errs = runVMDKCLI(t, "vmdk", "snapshot", "--overwrite", child, target)
		vmdkOneLineError(t, code, 1, errs, "belongs to the parent chain")
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "info", child); code != 0 || !strings.Contains(out, "parent: base.vmdk") {
		t.Fatalf("the chain was damaged: %s", out)
	}

	// A missing parent is said plainly, without the failed system call.
	os.Rename(base, base+".moved")
	code, _, errs = runVMDKCLI(t, "vmdk", "info", child)
	vmdkOneLineError(t, code, 1, errs, "its parent "+base+" does not exist")
	_, out, _ := runVMDKCLI(t, "vmdk", "check", child)
	if !strings.Contains(out, "base.vmdk does not exist") {
		t.Errorf("check: %s", out)
	}
	for _, text := range []string{errs, out} {
		if strings.Contains(text, "lstat") || strings.Contains(text, "no such file or directory") {
			t.Errorf("system call in the message: %s", text)
		}
	}
}

func TestVMDKHelp(t *testing.T) {
	for _, sub := range []string{"create", "info", "check", "convert", "resize", "snapshot", "commit", "rebase", "map", "bench"} {
		code, out, _ := runVMDKCLI(t, "vmdk", sub, "--help")
		if code != 0 || !strings.HasPrefix(out, "usage: hypercim vmdk "+sub) {
			t.Fatalf("%s --help: %d %q", sub, code, out)
		}
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "--help"); code != 0 || !strings.Contains(out, "snapshot") {
		t.Fatalf("vmdk --help: %d %s", code, out)
	}
	if code, _, errs := runVMDKCLI(t, "vmdk"); code != 2 || !strings.Contains(errs, "usage") {
		t.Fatalf("bare vmdk: %d %s", code, errs)
	}
}

func TestVMDKConvertSnapshotCommit(t *testing.T) {
	vmdkNeedQemu(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	data := bytes.Repeat([]byte("hypercim"), 1<<20) // 8 MiB
	os.WriteFile(raw, data, 0o644)
	stream := filepath.Join(dir, "s.vmdk")
	code, out, errs := runVMDKCLI(t, "vmdk", "convert", "--progress", "--subformat", "streamOptimized", raw, stream)
	if code != 0 || !strings.Contains(out, "100%") {
		t.Fatalf("convert: %d %q %s", code, out, errs)
	}
	if o, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, stream).CombinedOutput(); err != nil {
		t.Fatalf("%s", o)
	}
	back := filepath.Join(dir, "back.img") // .img: raw by extension
	if code, _, errs := runVMDKCLI(t, "vmdk", "convert", stream, back); code != 0 {
		t.Fatal(errs)
	}
	if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
		t.Fatal("round trip differs")
	}
	// A stream can be a parent (its delta is sparse).
	streamChild := filepath.Join(dir, "stream-child.vmdk")
	if code, _, errs := runVMDKCLI(t, "vmdk", "snapshot", stream, streamChild); code != 0 {
		t.Fatal(errs)
	}
	if o, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, streamChild).CombinedOutput(); err != nil {
		t.Fatalf("delta of a stream: %s", o)
	}
	child := filepath.Join(dir, "child.vmdk")
	base := filepath.Join(dir, "base.vmdk")
	runVMDKCLI(t, "vmdk", "convert", raw, base)
	if code, _, errs := runVMDKCLI(t, "vmdk", "snapshot", base, child); code != 0 {
		t.Fatal(errs)
	}
	if o, err := exec.Command("qemu-io", "-c", "write -P 0x42 1M 64k", child).CombinedOutput(); err != nil {
		t.Fatalf("%s", o)
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "map", "--json", child); code != 0 || !strings.Contains(out, `"depth": 0`) {
		t.Fatalf("map: %s", out)
	}
	if code, _, errs := runVMDKCLI(t, "vmdk", "commit", child); code != 0 {
		t.Fatal(errs)
	}
	copy(data[1<<20:], bytes.Repeat([]byte{0x42}, 64<<10))
	os.WriteFile(raw, data, 0o644)
	if o, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "vmdk", raw, base).CombinedOutput(); err != nil {
		t.Fatalf("after commit: %s", o)
	}
	// check exit codes: 1 with problems, 0 after --repair.
	f, _ := os.OpenFile(base, os.O_RDWR, 0)
	f.WriteAt([]byte{1}, 0x48)
	f.Close()
	if code, out, _ := runVMDKCLI(t, "vmdk", "check", base); code != 1 || !strings.Contains(out, "unclean-shutdown") {
		t.Fatalf("check dirty: %d %s", code, out)
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "check", "--repair", base); code != 0 || !strings.Contains(out, "repaired") {
		t.Fatalf("check --repair: %d %s", code, out)
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "check", "--json", base); code != 0 || !strings.Contains(out, `"clean": true`) {
		t.Fatalf("check --json: %d %s", code, out)
	}
	if code, _, errs := runVMDKCLI(t, "vmdk", "resize", base, "+1G"); code != 0 {
		t.Fatal(errs)
	}
	// The base changed (repair, resize): its child now refuses to open,
	// with a one-line explanation, until relinked.
	code, _, errs = runVMDKCLI(t, "vmdk", "rebase", child, "")
	vmdkOneLineError(t, code, 1, errs, "CID")
	if code, _, errs := runVMDKCLI(t, "vmdk", "rebase", "--unsafe", child, ""); code != 0 {
		t.Fatal(errs)
	}
	if code, out, _ := runVMDKCLI(t, "vmdk", "info", child); code != 0 || strings.Contains(out, "parent:") {
		t.Fatalf("standalone child: %s", out)
	}
}

func TestVMDKBenchRuns(t *testing.T) {
	code, out, errs := runVMDKCLI(t, "vmdk", "bench", "--size", "4M", "--reads", "500", "--qemu=false", "--dir", t.TempDir())
	if code != 0 {
		t.Fatalf("bench: %d %s", code, errs)
	}
	for _, want := range []string{"ratio vmdk/raw throughput", "hypercim, --compression fast", "hypercim, --compression default", "output "} {
		if !strings.Contains(out, want) {
			t.Fatalf("bench output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseVMDKSize(t *testing.T) {
	for in, want := range map[string]int64{"64M": 64 << 20, "1G": 1 << 30, "1.5GiB": 3 << 29, "512": 512, "10t": 10 << 40, "4 KiB": 4096} {
		if got, err := parseVMDKSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1M", "M", "1X", "99999999999P"} {
		if _, err := parseVMDKSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hypercim/hypercim/cmd/internal/vmrun"
)

// vmGuest builds the test guest once for this test binary.
var vmGuest = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hypercim-vm-cli-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "hypercim-testguest")
	if b, err := exec.Command("make", "-s", "-C", "../../hypervisor/testguest", "OUT="+out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the test guest: %v\n%s", err, b)
	}
	return out, nil
})

// runVMCLI runs "hypercim ARGS" in-process with stdin, returning the exit
// status and output.
func runVMCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(&cliEnv{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func vmNeedKVM(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("no /dev/kvm")
	}
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
	g, err := vmGuest()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestVMRunTestGuest is the acceptance interface: the test guest on a VMDK
// the test prepared, its report on stdout, its mark found by qemu-img.
func TestVMRunTestGuest(t *testing.T) {
	guest := vmNeedKVM(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "seed.raw")
	seed := bytes.Repeat([]byte("cli"), 171)[:512]
	if err := os.WriteFile(raw, append(seed, make([]byte, 4<<20-512)...), 0o600); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "d.vmdk")
	if b, err := exec.Command("qemu-img", "convert", "-O", "vmdk", raw, disk).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	code, out, errs := runVMCLI(t, "", "vm", "run", "--kernel", guest, "--cpus", "4", "--memory", "64M", "--disk", disk)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errs, out)
	}
	want := fmt.Sprintf("testguest: cpus=4 disks=1\ntestguest: disk0 sectors=8192 crc0=%08x\ntestguest: done\n", crc32.ChecksumIEEE(seed))
	if !strings.HasSuffix(out, want) {
		t.Errorf("stdout %q, want it to end with %q", out, want)
	}
	back := filepath.Join(dir, "back.raw")
	if b, err := exec.Command("qemu-img", "convert", "-O", "raw", disk, back).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	b, _ := os.ReadFile(back)
	if len(b) < 1024 || string(b[512:530]) != "testguest was here" {
		t.Error("the guest's mark is not in sector 1 of the VMDK")
	}
}

// TestVMRunCrashAndInput drives the interactive guest through piped input
// and checks a guest crash exits 3 with its reason.
func TestVMRunCrashAndInput(t *testing.T) {
	guest := vmNeedKVM(t)
	code, out, errs := runVMCLI(t, "echo piped\nfail 9\n", "vm", "run", "--kernel", guest, "--memory", "64M",
		"--cmdline", "testguest.interactive", "--transport", "mmio")
	if code != vmrun.ExitGuestCrash || !strings.Contains(errs, "failure code 9") {
		t.Errorf("exit %d, stderr %q; want %d and the failure code", code, errs, vmrun.ExitGuestCrash)
	}
	if !strings.Contains(out, "\npiped\n") {
		t.Errorf("the piped command did not reach the guest: %q", out)
	}
}

func TestVMRunErrors(t *testing.T) {
	for _, c := range []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"vm", "run"}, 2, "--kernel is required"},
		{[]string{"vm", "run", "--kernel", "k", "--memory", "lots"}, 2, "--memory"},
		{[]string{"vm", "run", "--kernel", "k", "--backend", "xen"}, 2, "--backend"},
		{[]string{"vm", "run", "--kernel", "k", "--disk", "a.vmdk,fast"}, 2, "unknown option"},
		{[]string{"vm", "run", "--kernel", "k", "--backend", "libvirt", "--transport", "mmio"}, 2, "kvm backend only"},
		{[]string{"vm", "run", "--kernel", "k", "--nic", "network=default"}, 2, "libvirt backend only"},
		{[]string{"vm", "run", "--kernel", "k", "--backend", "libvirt", "--nic", "bridge="}, 2, "no tap, network or bridge"},
		{[]string{"vm", "stop"}, 2, "unknown subcommand"},
		{[]string{"vm", "run", "--kernel", "/nonexistent/kernel", "--memory", "64M"}, 1, "/nonexistent/kernel"},
		{[]string{"vm", "run", "--kernel", "k", "--cpus", "0"}, 1, "vCPUs 0"},
	} {
		if c.code == 1 {
			if _, err := os.Stat("/dev/kvm"); err != nil {
				continue
			}
		}
		code, _, errs := runVMCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(errs, c.mention) {
			t.Errorf("%v: exit %d stderr %q, want %d mentioning %q", c.args, code, errs, c.code, c.mention)
		}
	}
	if code, out, _ := runVMCLI(t, "", "vm", "--help"); code != 0 || !strings.Contains(out, "--disk FILE") {
		t.Errorf("vm --help: exit %d, %q", code, out)
	}
}

// TestVMRunSetupErrors: a machine that cannot be built (missing or
// unreadable disk, impossible memory size) is an error with its reason,
// never a VMM crash.
func TestVMRunSetupErrors(t *testing.T) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("needs /dev/kvm")
	}
	guest, err := vmGuest()
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.vmdk")
	if err := os.WriteFile(truncated, []byte("KDMV"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--disk", "/nonexistent/disk.vmdk"}, "/nonexistent/disk.vmdk"},
		{[]string{"--disk", truncated}, "truncated.vmdk"},
		{[]string{"--memory", "120T"}, "more than the"},
		{[]string{"--memory", "120T", "--overcommit"}, "guest RAM"},
	} {
		args := append([]string{"vm", "run", "--kernel", guest, "--memory", "64M"}, c.args...)
		code, _, errs := runVMCLI(t, "", args...)
		if code != 1 || !strings.Contains(errs, c.mention) || strings.Contains(errs, "panic") {
			t.Errorf("%v: exit %d stderr %q, want 1 mentioning %q", c.args, code, errs, c.mention)
		}
	}
}

// TestVMRunExecsVMM: the built hypercim hands a kvm machine to
// hypercim-vmm installed beside it, which then is the process running the
// guest (same PID, same streams) and exits with the guest's status.
func TestVMRunExecsVMM(t *testing.T) {
	guest := vmNeedKVM(t)
	bin := t.TempDir()
	for name, pkg := range map[string]string{"hypercim": ".", "hypercim-vmm": "../hypercim-vmm"} {
		if b, err := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "hypercim"), "vm", "run", "--kernel", guest, "--memory", "64M",
		"--cmdline", "testguest.interactive")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "testguest: ready" {
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid))
	if err != nil || filepath.Base(exe) != "hypercim-vmm" {
		t.Errorf("the guest runs in %q (%v), want hypercim-vmm", exe, err)
	}
	io.WriteString(stdin, "poweroff\n")
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v; stderr %q", err, stderr.String())
	}
}

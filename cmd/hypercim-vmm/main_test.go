package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cmd/internal/vmrun"
)

func TestRunArguments(t *testing.T) {
	for _, c := range []struct {
		args    []string
		code    int
		mention string
	}{
		{nil, vmrun.ExitUsage, "usage: hypercim-vmm run"},
		{[]string{"start"}, vmrun.ExitUsage, "usage: hypercim-vmm run"},
		{[]string{"run"}, vmrun.ExitUsage, "--kernel is required"},
		{[]string{"run", "--kernel", "k", "--backend", "libvirt"}, vmrun.ExitUsage, "runs the kvm backend"},
		{[]string{"run", "--help"}, 0, ""},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, vmrun.Env{Stdout: &out, Stderr: &errb})
		if code != c.code || !strings.Contains(errb.String(), c.mention) {
			t.Errorf("%q: exit %d, stderr %q; want %d mentioning %q", c.args, code, errb.String(), c.code, c.mention)
		}
	}
}

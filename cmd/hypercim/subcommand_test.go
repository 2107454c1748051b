package main

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args  []string
		pos   []string
		quiet bool
		ns    string
	}{
		{[]string{"a.mof", "-quiet", "b.mof"}, []string{"a.mof", "b.mof"}, true, "root/cimv2"},
		{[]string{"-ns", "x", "a", "b", "-quiet"}, []string{"a", "b"}, true, "x"},
		{[]string{"a", "--", "-quiet", "-b"}, []string{"a", "-quiet", "-b"}, false, "root/cimv2"},
		{[]string{"--", "-ns", "y"}, []string{"-ns", "y"}, false, "root/cimv2"},
		{nil, nil, false, "root/cimv2"},
	} {
		fs := newFlagSet("test")
		quiet := fs.Bool("quiet", false, "")
		ns := fs.String("ns", "root/cimv2", "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || *quiet != c.quiet || *ns != c.ns {
			t.Errorf("%q: got %q, quiet %v, ns %q, %v; want %q, quiet %v, ns %q", c.args, pos, *quiet, *ns, err, c.pos, c.quiet, c.ns)
		}
	}
	fs := newFlagSet("test")
	if _, err := parseInterspersed(fs, []string{"a", "--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
	if _, err := parseInterspersed(fs, []string{"a", "-nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestCommandTable(t *testing.T) {
	errShown := errors.New("help shown")
	var ran []string
	tab := &commandTable{
		name: "hypercim thing", synopsis: "hypercim thing <subcommand>", heading: "subcommands", width: 5,
		footer: "\nfooter\n", helpShown: errShown,
		cmds: map[string]subcommand{
			"zap": {"zap it", func(_ *cliEnv, args []string) error { ran = append(ran, "zap"); return errors.New("zap failed") }},
			"add": {"add one\nor more", func(_ *cliEnv, args []string) error {
				ran = append(ran, "add "+strings.Join(args, " "))
				return errShown
			}},
		},
	}
	var b bytes.Buffer
	tab.usage(&b)
	want := "usage: hypercim thing <subcommand>\n\nsubcommands:\n  add   add one\n        or more\n  zap   zap it\n\nfooter\n"
	if b.String() != want {
		t.Errorf("usage:\n%s\nwant:\n%s", b.String(), want)
	}
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr}
	var ee *exitError
	if err := tab.dispatch(env, nil); !errors.As(err, &ee) || ee.code != 2 || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("no arguments: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	stderr.Reset()
	if err := tab.dispatch(env, []string{"--help"}); err != nil || stdout.String() != want || stderr.Len() != 0 {
		t.Errorf("--help: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	if err := tab.dispatch(env, []string{"frob"}); !errors.As(err, &ee) || ee.code != 2 ||
		ee.msg != `hypercim thing: unknown subcommand "frob" (see 'hypercim thing --help')` {
		t.Errorf("unknown subcommand: %v", err)
	}
	if err := tab.dispatch(env, []string{"add", "x", "y"}); err != nil {
		t.Errorf("the help sentinel is success: %v", err)
	}
	if err := tab.dispatch(env, []string{"zap"}); err == nil || err.Error() != "zap failed" {
		t.Errorf("zap: %v", err)
	}
	if !reflect.DeepEqual(ran, []string{"add x y", "zap"}) {
		t.Errorf("ran %q", ran)
	}
}

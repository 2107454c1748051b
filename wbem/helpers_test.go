package wbem_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	. "github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/testprovider"
)

const testNS = "root/test"

// staticMOF adds static instances to the test provider's model.
const staticMOF = `
instance of T_Static as $s1 { Id = "s1"; Name = "one"; Extra = "x"; };
instance of T_Static as $s2 { Id = "s2"; Name = "two"; Count = 2; };
instance of T_Sub as $sub1 { Id = "sub1"; Name = "sub one"; Level = 3; };
instance of T_Link { Left = $s1; Right = $sub1; Label = "static"; };
instance of T_Link { Left = $s1; Right = "T_Dynamic.Id=\"d1\""; Label = "to dynamic"; };
instance of T_Link { Left = $s2; Right = "T_Dynamic.Id=\"gone\""; Label = "dangling"; };
`

// testEnv is a server over a fresh repository holding the test model, with
// the test provider registered.
type testEnv struct {
	srv  *Server
	repo *repository.Repository
	prov *testprovider.Provider
	ctx  context.Context // an unrestricted principal
}

type envOptions struct {
	pull  PullLimits
	authz Authorizer
	gen   int
}

func newTestEnv(t testing.TB, o envOptions) *testEnv {
	t.Helper()
	return buildTestEnv(t, t.TempDir(), o, t.Cleanup)
}

// buildTestEnv makes a testEnv in dir; cleanup registers what ends it.
func buildTestEnv(t testing.TB, dir string, o envOptions, cleanup func(func())) *testEnv {
	t.Helper()
	repo, err := repository.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(func() { repo.Close() })
	quals, err := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	if err != nil {
		t.Fatal(err)
	}
	w := repo.NewBulkWriter()
	for _, ns := range []string{testNS, "root/interop"} {
		c := &mof.Compiler{Target: w, Namespace: ns}
		src := string(quals)
		if ns == testNS {
			src += testprovider.MOF + staticMOF
		}
		if _, err := c.CompileSource(ns+".mof", []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, err := NewServer(Config{Repository: repo, Logger: log, Pull: o.pull, Authorizer: o.authz})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(func() { srv.Close() })
	prov := testprovider.New()
	prov.GenCount = o.gen
	if err := prov.Register(srv.Registry(), testNS); err != nil {
		t.Fatal(err)
	}
	env := &testEnv{srv: srv, repo: repo, prov: prov, ctx: WithPrincipal(context.Background(), Principal{User: "tester", Unrestricted: true})}
	env.createDynamic(t, "d1", "s2")
	env.createDynamic(t, "d2", "")
	return env
}

func (e *testEnv) createDynamic(t testing.TB, id, partner string) {
	t.Helper()
	inst := cim.NewInstance("T_Dynamic")
	inst.Set("Id", cim.NewString(id))
	inst.Set("Name", cim.NewString("dynamic "+id))
	inst.Set("Size", cim.NewUint32(10))
	if partner != "" {
		inst.Set("Partner", cim.NewString(partner))
	}
	if _, err := e.srv.CreateInstance(e.ctx, testNS, inst); err != nil {
		t.Fatal(err)
	}
}

func path(class, id string) *cim.ObjectPath {
	return cim.NewInstancePath("", class, cim.KeyBinding{Name: "Id", Value: cim.NewString(id)})
}

// wantStatus fails the test unless err carries status.
func wantStatus(t *testing.T, what string, err error, status cim.Status) {
	t.Helper()
	if cim.StatusOf(err) != status {
		t.Errorf("%s: error %v, want %s", what, err, status.Name())
	}
	var ce *cim.Error
	if err != nil && !errors.As(err, &ce) {
		t.Errorf("%s: error %T is not a *cim.Error", what, err)
	}
}

// collect gathers an enumeration's results.
func collect[T any](t *testing.T, run func(yield func(T) error) error) []T {
	t.Helper()
	var out []T
	if err := run(func(x T) error { out = append(out, x); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// ids returns the sorted Id keys of instances or paths.
func ids[T *cim.Instance | *cim.ObjectPath](xs []T) string {
	var out []string
	for _, x := range xs {
		var p *cim.ObjectPath
		switch v := any(x).(type) {
		case *cim.Instance:
			p = v.Path
		case *cim.ObjectPath:
			p = v
		}
		id, _ := p.Key("Id")
		out = append(out, p.ClassName+"."+id.Str())
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// authzFunc adapts a function to Authorizer.
type authzFunc func(p Principal, ns string, write bool) bool

func (f authzFunc) Allowed(p Principal, ns string, write bool) bool { return f(p, ns, write) }

package wbem_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/hypercim/hypercim/cim"
	"github.com/hypercim/hypercim/cim/repository"
	"github.com/hypercim/hypercim/mof"
	"github.com/hypercim/hypercim/schemas"
	"github.com/hypercim/hypercim/wbem"
	"github.com/hypercim/hypercim/wbem/testprovider"
)

// A server over a repository, with a provider serving dynamic instances
// next to the repository's static ones.
func ExampleServer() {
	dir, _ := os.MkdirTemp("", "wbem-example-")
	defer os.RemoveAll(dir)
	repo, _ := repository.Open(dir, nil)
	defer repo.Close()

	// The classes, and two static instances.
	quals, _ := fs.ReadFile(schemas.Files(), "qualifiers.mof")
	w := repo.NewBulkWriter()
	c := &mof.Compiler{Target: w, Namespace: "root/test"}
	if _, err := c.CompileSource("example.mof", append(quals, testprovider.MOF+`
instance of T_Static { Id = "s1"; };
instance of T_Sub { Id = "sub1"; Level = 2; };`...)); err != nil {
		fmt.Println(err)
		return
	}
	w.Commit()

	log := logrus.New()
	log.SetOutput(io.Discard)
	srv, _ := wbem.NewServer(wbem.Config{Repository: repo, Logger: log})
	defer srv.Close()
	prov := testprovider.New()
	prov.GenCount = 2
	prov.Register(srv.Registry(), "root/test")

	// No authorizer: only the server's own principal gets in.
	ctx := wbem.Internal(context.Background())
	srv.EnumerateInstanceNames(ctx, "ROOT/test", "T_Base", func(p *cim.ObjectPath) error {
		fmt.Println(p)
		return nil
	})
	_, err := srv.GetInstance(ctx, "root/test", cim.NewInstancePath("", "T_Static", cim.KeyBinding{Name: "Id", Value: cim.NewString("nope")}), wbem.InstanceOptions{})
	fmt.Println(err)
	// Output:
	// /root/test:T_Gen.Id="g0000000"
	// /root/test:T_Gen.Id="g0000001"
	// /root/test:T_Static.Id="s1"
	// /root/test:T_Sub.Id="sub1"
	// CIM_ERR_NOT_FOUND: instance /root/test:T_Static.Id="nope" does not exist
}

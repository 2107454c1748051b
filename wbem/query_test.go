package wbem_test

import (
	"strings"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

func TestExecQuery(t *testing.T) {
	e := newTestEnv(t, envOptions{gen: 3})
	run := func(lang, q string) ([]*cim.Instance, error) {
		var out []*cim.Instance
		err := e.srv.ExecQuery(e.ctx, testNS, lang, q, func(inst *cim.Instance) error {
			out = append(out, inst)
			return nil
		})
		return out, err
	}
	cases := []struct{ lang, q, want string }{
		{"WQL", "SELECT * FROM T_Base WHERE Count = 7", "T_Dynamic.d1 T_Dynamic.d2 T_Static.s1 T_Sub.sub1"},
		{"WQL", "SELECT * FROM T_Base WHERE Count < 2", "T_Gen.g0000000 T_Gen.g0000001"},
		{"DMTF:CQL", "SELECT * FROM T_Static s WHERE s.Name LIKE 's.*' OR s ISA T_Sub", "T_Sub.sub1"},
		{"CQL", "SELECT * FROM T_Static WHERE Name LIKE '.*o'", "T_Static.s2"},
		{"CIM:CQL", "SELECT * FROM T_Base WHERE NOT Count = 7 AND Id LIKE 's.'", "T_Static.s2"},
		{"wql", "SELECT * FROM T_Dynamic WHERE Partner IS NOT NULL", "T_Dynamic.d1"},
		{"WQL", "SELECT * FROM T_Link WHERE Label = 'static'", ""},
	}
	for _, c := range cases {
		res, err := run(c.lang, c.q)
		if err != nil {
			t.Errorf("%s: %v", c.q, err)
			continue
		}
		var withIds []*cim.Instance
		for _, inst := range res {
			if inst.Path == nil || inst.Path.Namespace != testNS {
				t.Errorf("%s: result without its path: %v", c.q, inst)
			}
			if _, ok := inst.Path.Key("Id"); ok {
				withIds = append(withIds, inst)
			}
		}
		if got := ids(withIds); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.q, got, c.want)
		}
	}
	links, _ := run("WQL", "SELECT Label FROM T_Link WHERE Label LIKE '%dyn%'")
	if len(links) != 1 || len(links[0].Properties()) != 1 || links[0].Get("Label").Str() != "to dynamic" {
		t.Errorf("projection: %v", links)
	}
	for _, c := range []struct {
		lang, q string
		status  cim.Status
	}{
		{"XQuery", "SELECT * FROM T_Base", cim.ErrQueryLanguageNotSupported},
		{"DMTF:FQL", "Count = 7", cim.ErrQueryLanguageNotSupported},
		{"WQL", "SELECT * FROM", cim.ErrInvalidQuery},
		{"WQL", "SELECT * FROM T_Nope", cim.ErrInvalidQuery},
		{"WQL", "SELECT Nope FROM T_Base", cim.ErrInvalidQuery},
		{"WQL", "SELECT * FROM T_Base WHERE Count = 'seven'", cim.ErrInvalidQuery},
	} {
		_, err := run(c.lang, c.q)
		wantStatus(t, c.lang+" "+c.q, err, c.status)
		if err != nil && !strings.HasPrefix(err.Error(), c.status.Name()) {
			t.Errorf("%v", err)
		}
	}
}

package query

import (
	"errors"
	"testing"

	"github.com/hypercim/hypercim/cim"
)

// Parsing any text must either succeed or fail with CIM_ERR_INVALID_QUERY,
// and a parsed query must check and evaluate without panicking.

func FuzzParseSelect(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM T_Thing WHERE Name = 'vm-01' AND Num > 3",
		"SELECT Name, Num FROM T_Thing t WHERE t.Inner.Size >= 0x10 OR NOT Flag = TRUE",
		"SELECT * FROM T_Thing WHERE ANY Tags LIKE 'r%' AND Codes[1] <> 4",
		"SELECT * FROM T_Thing WHERE Inner ISA T_Embedded AND When < '20240101000000.000000+000'",
		"SELECT * FROM T_Thing WHERE Name LIKE 'a[b-c]^(d|e)*{1,2}$' AND Empty IS NOT NULL",
		"SELECT * FROM T_Thing WHERE Num = -101b AND Ratio = 1.5e3 AND Letter = \"\\u0041\"",
	} {
		f.Add("WQL", s)
		f.Add("DMTF:CQL", s)
	}
	target := testClasses(f)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(f, target)
	f.Fuzz(func(t *testing.T, lang, q string) {
		s, err := ParseSelect(lang, q)
		if err != nil {
			if !errors.Is(err, cim.ErrInvalidQuery) && !errors.Is(err, cim.ErrQueryLanguageNotSupported) {
				t.Fatalf("%q: unexpected error %v", q, err)
			}
			return
		}
		if err := s.Check(cls, schema.lookup); err != nil && !errors.Is(err, cim.ErrInvalidQuery) {
			t.Fatalf("%q: Check: unexpected error %v", q, err)
		}
		s.Match(inst, schema)
		s.Project(inst)
	})
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"Name = 'vm-01' AND Num = 7",
		"(Codes = {2, 4, 6}) OR (EVERY Codes < 90)",
		"NOT ANY Tags LIKE 'gr.*' AND Tags[2] <> 'x'",
		"Inner.Size > 1 AND Empty = NULL AND Flag <> FALSE",
	} {
		f.Add(s)
	}
	target := testClasses(f)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(f, target)
	f.Fuzz(func(t *testing.T, q string) {
		flt, err := ParseFilter(FQL, q)
		if err != nil {
			if !errors.Is(err, cim.ErrInvalidQuery) {
				t.Fatalf("%q: unexpected error %v", q, err)
			}
			return
		}
		if err := flt.Check(cls, schema.lookup); err != nil && !errors.Is(err, cim.ErrInvalidQuery) {
			t.Fatalf("%q: Check: unexpected error %v", q, err)
		}
		flt.Match(inst, schema)
		flt.Properties()
	})
}

package query

import "testing"

func BenchmarkParseSelect(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := ParseSelect(WQL, "SELECT Name, Num FROM T_Thing WHERE Name LIKE 'vm-%' AND (Num > 5 OR Flag = TRUE) AND Inner.Size >= 10"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	target := testClasses(b)
	schema := testSchema{target}
	cls, _ := target.Class("root/test", "T_Thing")
	inst := thing(b, target)
	s, _ := ParseSelect(CQL, "SELECT * FROM T_Thing WHERE Name LIKE 'vm-.*' AND (Num > 5 OR Flag = TRUE) AND When > '20240101000000.000000+000' AND ANY Tags = 'blue'")
	if err := s.Check(cls, schema.lookup); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !s.Match(inst, schema) {
			b.Fatal("no match")
		}
	}
}
